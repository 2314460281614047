#include "compression/csr.h"

#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "tensor/check.h"
#include "tensor/model_file.h"

namespace tt::compress {
namespace {

namespace proto = tensor::proto;

constexpr int64_t kMaxIndex = std::numeric_limits<int32_t>::max();

template <typename... Args>
absl::Status TensorError(const proto::TensorProto& p, const Args&... args) {
  return absl::InvalidArgumentError(absl::StrCat("tensor '", p.name(), "': ", args...));
}

// Little-endian float32 <-> 4 bytes, through the bit pattern (correct on any host).
void EncodeF32(float v, char* out) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((bits >> (8 * i)) & 0xff);
}

float DecodeF32(const char* in) {
  uint32_t bits = 0;
  for (int i = 0; i < 4; ++i) bits |= uint32_t{static_cast<uint8_t>(in[i])} << (8 * i);
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

// The k-th stored integer of an INT8 or INT4 `data` string.
int32_t StoredInt(const std::string& data, proto::DType dtype, int64_t k) {
  if (dtype == proto::INT8) return static_cast<int8_t>(data[k]);
  const uint8_t byte = static_cast<uint8_t>(data[k / 2]);
  const int32_t nibble = (k % 2 == 0) ? (byte & 0xf) : (byte >> 4);
  return nibble >= 8 ? nibble - 16 : nibble;  // two's complement, 4 bits
}

// Index into quant.scale / zero_point of the element at (row, col) of a (rows, cols)
// tensor. `quant` has passed ValidateTensorProto, so the index is in range.
int64_t QuantIndex(const proto::QuantParams& q, int64_t row, int64_t col, int64_t cols) {
  switch (q.scheme()) {
    case proto::PER_CHANNEL:
      return q.axis() == 0 ? row : col;
    case proto::PER_BLOCK:
      return (row * cols + col) / q.block_size();
    default:
      return 0;
  }
}

}  // namespace

double CsrMatrix::sparsity() const {
  const int64_t n = rows * cols;
  return n == 0 ? 0.0 : 1.0 - static_cast<double>(nnz()) / static_cast<double>(n);
}

int64_t CsrMatrix::Bytes() const {
  return static_cast<int64_t>(row_ptr.size() * sizeof(int32_t) +
                              col_idx.size() * sizeof(int32_t) + values.size() * sizeof(float));
}

void CheckCsr(const CsrMatrix& m, const char* what) {
  TT_CHECK(m.rows >= 0 && m.cols >= 0 && m.cols <= kMaxIndex, what, ": bad CSR shape (", m.rows,
           ", ", m.cols, ")");
  TT_CHECK(static_cast<int64_t>(m.row_ptr.size()) == m.rows + 1, what, ": CSR row_ptr has ",
           m.row_ptr.size(), " entries, expected rows + 1 = ", m.rows + 1);
  TT_CHECK(m.col_idx.size() == m.values.size(), what, ": CSR has ", m.col_idx.size(),
           " columns but ", m.values.size(), " values");
  TT_CHECK(m.row_ptr[0] == 0 && m.row_ptr[m.rows] == m.nnz(), what, ": CSR row_ptr runs from ",
           m.row_ptr[0], " to ", m.row_ptr[m.rows], ", expected 0 to nnz = ", m.nnz());
  for (int64_t r = 0; r < m.rows; ++r) {
    TT_CHECK(m.row_ptr[r] <= m.row_ptr[r + 1], what, ": CSR row_ptr decreases at row ", r);
    for (int64_t k = m.row_ptr[r]; k < m.row_ptr[r + 1]; ++k) {
      const int32_t c = m.col_idx[k];
      TT_CHECK(c >= 0 && c < m.cols, what, ": CSR column ", c, " of row ", r,
               " is outside [0, ", m.cols, ")");
      TT_CHECK(k == m.row_ptr[r] || c > m.col_idx[k - 1], what, ": CSR columns of row ", r,
               " do not increase at entry ", k);
    }
  }
}

CsrMatrix DenseToCsr(const float* dense, int64_t rows, int64_t cols) {
  TT_CHECK(rows >= 0 && cols >= 0 && cols <= kMaxIndex, "DenseToCsr: bad shape (", rows, ", ",
           cols, ")");
  CsrMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.row_ptr.reserve(rows + 1);
  m.row_ptr.push_back(0);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = dense + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      if (row[c] != 0.0f) {  // NaN != 0 holds: NaNs are kept
        m.col_idx.push_back(static_cast<int32_t>(c));
        m.values.push_back(row[c]);
      }
    }
    TT_CHECK(m.nnz() <= kMaxIndex, "DenseToCsr: more than 2^31 - 1 nonzeros");
    m.row_ptr.push_back(static_cast<int32_t>(m.nnz()));
  }
  return m;
}

void CsrToDense(const CsrMatrix& m, float* dense) {
  if (m.rows * m.cols > 0) std::memset(dense, 0, sizeof(float) * m.rows * m.cols);
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t k = m.row_ptr[r]; k < m.row_ptr[r + 1]; ++k) {
      dense[r * m.cols + m.col_idx[k]] = m.values[k];
    }
  }
}

CsrMatrix CsrTranspose(const CsrMatrix& m) {
  TT_CHECK(m.rows <= kMaxIndex, "CsrTranspose: ", m.rows, " rows do not fit int32 columns");
  CsrMatrix t;
  t.rows = m.cols;
  t.cols = m.rows;
  // Count the nonzeros of every column, turn the counts into offsets, then drop each
  // entry into its column's next free slot. Rows are visited in order, so each column of
  // m (row of t) receives increasing row indices.
  t.row_ptr.assign(t.rows + 1, 0);
  for (int32_t c : m.col_idx) ++t.row_ptr[c + 1];
  for (int64_t r = 0; r < t.rows; ++r) t.row_ptr[r + 1] += t.row_ptr[r];
  t.col_idx.resize(m.nnz());
  t.values.resize(m.nnz());
  std::vector<int32_t> next(t.row_ptr.begin(), t.row_ptr.end() - 1);
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t k = m.row_ptr[r]; k < m.row_ptr[r + 1]; ++k) {
      const int32_t slot = next[m.col_idx[k]]++;
      t.col_idx[slot] = static_cast<int32_t>(r);
      t.values[slot] = m.values[k];
    }
  }
  return t;
}

proto::TensorProto CsrToProto(const std::string& name, const CsrMatrix& m) {
  CheckCsr(m, "CsrToProto");
  proto::TensorProto p;
  p.set_name(name);
  p.set_dtype(proto::F32);
  p.add_shape(m.rows);
  p.add_shape(m.cols);
  proto::SparseEncoding* sparse = p.mutable_sparse();
  sparse->set_format(proto::CSR);
  sparse->mutable_row_ptr()->Add(m.row_ptr.begin(), m.row_ptr.end());
  sparse->mutable_col_idx()->Add(m.col_idx.begin(), m.col_idx.end());
  sparse->set_nnz(m.nnz());
  std::string* data = p.mutable_data();
  data->resize(4 * m.values.size());
  for (size_t k = 0; k < m.values.size(); ++k) EncodeF32(m.values[k], &(*data)[4 * k]);
  return p;
}

absl::StatusOr<CsrMatrix> CsrFromProto(const proto::TensorProto& p) {
  TT_RETURN_IF_ERROR(tensor::ValidateTensorProto(p));
  if (p.sparse().format() != proto::CSR) {
    return TensorError(p, "is not CSR-encoded (sparse.format is ",
                       proto::SparseFormat_Name(p.sparse().format()),
                       "); read a dense tensor with tensor::TensorFromProto");
  }
  // Validated: 2-D shape, consistent row_ptr / col_idx / nnz, data of nnz values.
  const proto::SparseEncoding& sparse = p.sparse();
  CsrMatrix m;
  m.rows = p.shape(0);
  m.cols = p.shape(1);
  if (m.cols > kMaxIndex) return TensorError(p, "CSR has ", m.cols, " columns, at most 2^31 - 1");
  m.row_ptr.assign(sparse.row_ptr().begin(), sparse.row_ptr().end());
  m.col_idx.assign(sparse.col_idx().begin(), sparse.col_idx().end());
  m.values.resize(sparse.nnz());
  const std::string& data = p.data();
  if (p.dtype() == proto::F32) {
    for (int64_t k = 0; k < m.nnz(); ++k) m.values[k] = DecodeF32(&data[4 * k]);
    return m;
  }
  // INT8 / INT4: real = scale * (q - zero_point), the scale chosen by the element's place
  // in the dense tensor (validation checked the scheme and the number of scales).
  const proto::QuantParams& q = p.quant();
  for (int64_t r = 0; r < m.rows; ++r) {
    for (int64_t k = m.row_ptr[r]; k < m.row_ptr[r + 1]; ++k) {
      const int64_t i = QuantIndex(q, r, m.col_idx[k], m.cols);
      const int32_t zero_point = q.zero_point_size() == 0 ? 0 : q.zero_point(i);
      m.values[k] = q.scale(i) * static_cast<float>(StoredInt(data, p.dtype(), k) - zero_point);
    }
  }
  return m;
}

}  // namespace tt::compress
