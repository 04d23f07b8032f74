#include "core/activation_table.h"

namespace spatial_ops {
namespace {

struct TableRow {
  const char* name;
  Activation activation;
  int num_params;
};

constexpr TableRow kTable[] = {
#define SO_ROW(cls, name, nparams) {name, Activation::k##cls, nparams},
    SPATIAL_OPS_ACTIVATIONS(SO_ROW)
#undef SO_ROW
};

}  // namespace

bool activation_from_name(const std::string& name, Activation* activation) {
  for (const TableRow& row : kTable) {
    if (name == row.name) {
      *activation = row.activation;
      return true;
    }
  }
  return false;
}

int activation_num_params(Activation activation) {
  for (const TableRow& row : kTable) {
    if (row.activation == activation) return row.num_params;
  }
  return 0;
}

std::string activation_names() {
  std::string names;
  for (const TableRow& row : kTable) names += (names.empty() ? "" : ", ") + std::string(row.name);
  return names;
}

}  // namespace spatial_ops
