"""torch.export of a module holding the fused op: the ExportedProgram saved
as .pt2 reloads and runs in a fresh process that loads only the operator
library (no spatial_ops package), at the traced batch size and another;
AOTInductor packages it too. Needs no TensorFlow."""

import os

import pytest

pytest.importorskip("torch")

from helpers.processes import run_python  # noqa: E402
from spatial_ops.torch import _loader  # noqa: E402

EXPORT = r"""
import sys
import torch
import spatial_ops.torch as storch

class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.kernel = torch.nn.Parameter(torch.randn(6, 5))
        self.bias = torch.nn.Parameter(torch.randn(6, 5))

    def forward(self, x):
        y = storch.spatial_dense(x, self.kernel, self.bias, activation="gelu", reduce_axis=-1, reduction="mean")
        return storch.spatial_dense(y, self.kernel[:, 0], None, activation="tanh")

torch.manual_seed(0)
model = Model()
xs = [torch.randn(4, 6, 5), torch.randn(9, 6, 5)]
program = torch.export.export(model, (xs[0],), dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
torch.export.save(program, sys.argv[1])
with torch.no_grad():
    torch.save({"xs": xs, "ys": [model(x) for x in xs]}, sys.argv[2])
if sys.argv[3] == "aoti":
    torch._inductor.aoti_compile_and_package(program, package_path=sys.argv[4])
print("ok")
"""

RELOAD = r"""
import sys
import torch
torch.ops.load_library(sys.argv[3])
assert "spatial_ops" not in sys.modules
data = torch.load(sys.argv[2])
if sys.argv[4] == "aoti":
    run = torch._inductor.aoti_load_package(sys.argv[1])
else:
    run = torch.export.load(sys.argv[1]).module()
for x, y in zip(data["xs"], data["ys"]):
    torch.testing.assert_close(run(x), y, rtol=1e-6, atol=1e-6)
assert "spatial_ops" not in sys.modules
print("ok")
"""


def _env():
    env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_USE_LEGACY_KERAS", None)
    return env


@pytest.mark.parametrize("form", ["export", "aoti"])
def test_an_exported_program_reloads_with_only_the_operator_library(tmp_path, form):
    program, data, package = tmp_path / "program.pt2", tmp_path / "data.pt", tmp_path / "package.pt2"
    assert run_python(EXPORT, program, data, form, package, env=_env(), timeout=600).split()[-1] == "ok"
    saved = package if form == "aoti" else program
    assert run_python(RELOAD, saved, data, _loader.LIBRARY, form, env=_env(), timeout=300).split()[-1] == "ok"
