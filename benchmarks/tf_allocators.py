"""TensorFlow's CPU allocators as a user meets them, each an environment for
a fresh process (TensorFlow picks its allocator once, at start):

- 'malloc': TensorFlow's plain CPU allocator (TF_ENABLE_ONEDNN_OPTS=0), whose
  large tensors are fresh mappings from glibc's malloc, first touched page by
  page on every call. TensorFlow's default where it leaves its oneDNN
  optimisations off: CPUs without AVX-512 VNNI, AVX-512 BF16 or AMX, AVX2
  CPUs among them.
- 'oneDNN': the default where they are on (TensorFlow logs "oneDNN custom
  operations are on"): large blocks come back from oneDNN's pool.
- 'BFC': TF_CPU_ALLOCATOR_USE_BFC=true, TensorFlow's pooling allocator,
  which a user can turn on anywhere.
"""

ALLOCATORS = {
    "malloc": {"TF_ENABLE_ONEDNN_OPTS": "0"},
    "oneDNN": {"TF_ENABLE_ONEDNN_OPTS": "1"},
    "BFC": {"TF_CPU_ALLOCATOR_USE_BFC": "true", "TF_ENABLE_ONEDNN_OPTS": "0"},
}
