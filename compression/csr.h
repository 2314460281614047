// Compressed sparse row (CSR) matrices: how a pruned weight is stored once most of it is
// zero, in memory and in the model file (tensor/model.proto, SparseEncoding CSR).
//
//   // A (3, 4) matrix with 4 nonzeros:      row_ptr = [0, 2, 2, 4]
//   //   [ 5 0 0 7 ]                         col_idx = [0, 3, 1, 2]
//   //   [ 0 0 0 0 ]                         values  = [5, 7, 6, 8]
//   //   [ 0 6 8 0 ]
//   tt::compress::CsrMatrix m = tt::compress::DenseToCsr(dense.data(), 3, 4);
//   // row r's nonzeros: values[row_ptr[r] .. row_ptr[r+1]) at columns col_idx[same range]
//   tt::tensor::proto::TensorProto p = tt::compress::CsrToProto("fc1.weight", m);
//   TT_ASSIGN_OR_RETURN(tt::compress::CsrMatrix back, tt::compress::CsrFromProto(p));
//
// Size: in memory CSR takes 4 bytes per row (+4) and 8 per nonzero (value + int32
// column), against 4 per element dense, so it is smaller only below 50% density: at
// sparsity s (the fraction of zeros) the ratio is about 2 (1 - s), 5x smaller at 90%.
// In the model file the columns and row offsets are protobuf varints (packed repeated
// int32: 1 byte below 128, 2 below 16384), so a column costs 1-2 bytes there, and with
// int8 values a nonzero takes about 3 bytes instead of 8.
//
// Invariants of a valid CsrMatrix (CheckCsr enforces them; every function here keeps
// them): row_ptr has rows + 1 entries, row_ptr[0] = 0, non-decreasing, row_ptr[rows] =
// nnz = col_idx.size() = values.size(); columns are in [0, cols) and strictly increasing
// within a row. Indices are int32, so nnz and cols must stay below 2^31.
#ifndef TT_COMPRESSION_CSR_H_
#define TT_COMPRESSION_CSR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tensor/model.pb.h"

namespace tt::compress {

struct CsrMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<int32_t> row_ptr;  // rows + 1 offsets into col_idx / values
  std::vector<int32_t> col_idx;  // nnz columns, increasing within each row
  std::vector<float> values;     // nnz values

  // Stored entries (the nonzeros, unless a caller stored explicit zeros).
  int64_t nnz() const { return static_cast<int64_t>(values.size()); }
  // Fraction of the rows x cols elements that are not stored, in [0, 1]; 0 for an empty
  // (0-element) matrix.
  double sparsity() const;
  // Bytes of the three arrays: 4 (rows + 1) + 8 nnz.
  int64_t Bytes() const;
};

// Stops (TT_CHECK) with a message naming `what` and the broken invariant. For matrices
// built by code; data from outside goes through CsrFromProto, which returns a Status.
void CheckCsr(const CsrMatrix& m, const char* what);

// dense: (rows, cols) row-major -> CSR of its nonzeros. Exact zeros are dropped, and so
// are negative zeros (-0.0f == 0.0f), which therefore come back as +0.0f; every other
// value (NaN and infinities too) is kept bit for bit. rows, cols >= 0, and cols and the
// nonzero count below 2^31 (TT_CHECK).
CsrMatrix DenseToCsr(const float* dense, int64_t rows, int64_t cols);

// dense: (m.rows, m.cols) row-major, fully written (zeros where nothing is stored).
void CsrToDense(const CsrMatrix& m, float* dense);

// The CSR of m^T: (cols, rows), same nonzeros. O(nnz + rows + cols), a counting sort by
// column, so the result's rows come out with increasing columns, as CSR requires.
CsrMatrix CsrTranspose(const CsrMatrix& m);

// A TensorProto named `name`: dtype F32, shape (rows, cols), sparse.format CSR with
// row_ptr, col_idx and nnz, and `data` holding the nnz values little-endian (4 bytes
// each). It passes tensor::ValidateTensorProto.
tensor::proto::TensorProto CsrToProto(const std::string& name, const CsrMatrix& m);

// The CsrMatrix stored in `proto`. The proto is first checked with
// tensor::ValidateTensorProto (shape 2-D, row_ptr/col_idx/nnz consistent, columns in
// range and increasing, data size); it must be CSR-encoded (a dense tensor is an error:
// read it with tensor::TensorFromProto). F32 values are read bit for bit; INT8 and INT4
// values are dequantized with their quantization parameters, real = scale * (q -
// zero_point), where a per-channel scale is chosen by the element's (row, col) along
// `axis` and a per-block scale by its dense flat index row * cols + col. Errors are
// InvalidArgument and start with "tensor '<name>': ".
absl::StatusOr<CsrMatrix> CsrFromProto(const tensor::proto::TensorProto& proto);

}  // namespace tt::compress

#endif  // TT_COMPRESSION_CSR_H_
