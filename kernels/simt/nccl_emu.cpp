// The NCCL stand-in of the SIMT emulator: the calls ftrain makes (ncclGetUniqueId, ncclCommInitRank,
// ncclAllReduce, ncclReduceScatter, ncclAllGather, ncclBroadcast, group calls, destroy/abort and the
// error strings), on emulated device memory, transported over MPI between the processes of an mpirun
// job. Emulated streams run work when it is enqueued, so a collective runs when it is called (or at
// the outermost ncclGroupEnd); results are complete on return.
//
// It checks what NCCL defines (../shared/reference/cuda-libraries-reference.md section 3) and more
// than NCCL can: counts and pointer extents against the emulated allocations, datatypes and ops,
// the in-place rules of AllGather and ReduceScatter, the calling thread's device against the
// communicator's, one device per rank, and that every rank called the same collective with the same
// count, datatype, op and root (real NCCL hangs or corrupts silently on a mismatch; here it is
// ncclInvalidUsage naming both calls). Reductions are done on every rank in rank order, in f32 for
// f16/bf16 as NCCL accumulates them, so every rank gets the same bits.
#include <mpi.h>
#include <nccl.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/common/half.h"
#include "kernels/cuda/runtime.h"

struct ncclComm {
  MPI_Comm mpi = MPI_COMM_NULL;
  int nranks = 1, rank = 0, device = 0;
  std::string last_error;
};

namespace {

constexpr char kMagic[] = "ftrain-simt-nccl";
thread_local int t_group_depth = 0;
thread_local std::vector<std::function<ncclResult_t()>> t_group;
thread_local ncclResult_t t_group_error = ncclSuccess;
std::string g_last_error;  // errors not tied to a communicator

ncclResult_t fail(ncclComm* c, ncclResult_t r, const std::string& msg) {
  (c ? c->last_error : g_last_error) = msg;
  return r;
}

size_t type_size(ncclDataType_t t) {
  switch (t) {
    case ncclInt8: case ncclUint8: case ncclFloat8e4m3: case ncclFloat8e5m2: return 1;
    case ncclFloat16: case ncclBfloat16: return 2;
    case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
    case ncclInt64: case ncclUint64: case ncclFloat64: return 8;
    default: return 0;
  }
}

const char* call_name(int kind) {
  static const char* names[] = {"ncclAllReduce", "ncclBroadcast", "ncclAllGather", "ncclReduceScatter"};
  return names[kind];
}

// What every rank must agree on for one collective.
struct Signature {
  int32_t kind, dtype, op, root;
  uint64_t count;
};

std::string describe(const Signature& s) {
  std::string d = ft::cat(call_name(s.kind), "(count ", s.count, ", datatype ", s.dtype);
  if (s.op >= 0) d += ft::cat(", op ", s.op);
  if (s.root >= 0) d += ft::cat(", root ", s.root);
  return d + ")";
}

ncclResult_t mpi_check(ncclComm* c, int code, const char* call) {
  if (code == MPI_SUCCESS) return ncclSuccess;
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, buf, &len);
  return fail(c, ncclSystemError, ft::cat(call, ": ", buf));
}

// Checks that [p, p + bytes) is one emulated device allocation.
bool in_device_memory(ncclComm* c, const void* p, size_t bytes, const char* call, const char* which) {
  try {
    ft::cuda::check_device_range(p, bytes, ft::cat(call, " ", which).c_str());
    return true;
  } catch (const ft::Error& e) {
    c->last_error = e.what();
    return false;
  }
}

bool overlap(const void* a, size_t na, const void* b, size_t nb) {
  const auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return x < y + nb && y < x + na;
}

float load(ncclDataType_t t, const unsigned char* p, size_t i) {
  uint16_t h;
  std::memcpy(&h, p + 2 * i, 2);
  return t == ncclFloat16 ? ft::kern::f16_to_f32(h) : ft::kern::bf16_to_f32(h);
}

template <class T>
T combine(T a, T b, ncclRedOp_t op) {
  switch (op) {
    case ncclProd: return a * b;
    case ncclMax: return a > b ? a : b;
    case ncclMin: return a < b ? a : b;
    default: return a + b;  // ncclSum, ncclAvg (divided at the end)
  }
}

template <class T>
void reduce_typed(const std::vector<unsigned char>& all, size_t stride, size_t first, size_t count, int nranks,
                  ncclRedOp_t op, void* out) {
  for (size_t i = 0; i < count; ++i) {
    T acc;
    std::memcpy(&acc, all.data() + (first + i) * sizeof(T), sizeof(T));
    for (int r = 1; r < nranks; ++r) {
      T v;
      std::memcpy(&v, all.data() + r * stride + (first + i) * sizeof(T), sizeof(T));
      acc = combine(acc, v, op);
    }
    if (op == ncclAvg) acc = static_cast<T>(acc / static_cast<T>(nranks));
    std::memcpy(static_cast<unsigned char*>(out) + i * sizeof(T), &acc, sizeof(T));
  }
}

// out[i] = op over ranks of element first + i of every rank's buffer (all: nranks buffers of `stride` bytes).
void reduce(const std::vector<unsigned char>& all, size_t stride, size_t first, size_t count, int nranks,
            ncclDataType_t t, ncclRedOp_t op, void* out) {
  switch (t) {
    case ncclFloat32: return reduce_typed<float>(all, stride, first, count, nranks, op, out);
    case ncclFloat64: return reduce_typed<double>(all, stride, first, count, nranks, op, out);
    case ncclInt32: return reduce_typed<int32_t>(all, stride, first, count, nranks, op, out);
    case ncclUint32: return reduce_typed<uint32_t>(all, stride, first, count, nranks, op, out);
    case ncclInt64: return reduce_typed<int64_t>(all, stride, first, count, nranks, op, out);
    case ncclUint64: return reduce_typed<uint64_t>(all, stride, first, count, nranks, op, out);
    case ncclInt8: return reduce_typed<int8_t>(all, stride, first, count, nranks, op, out);
    case ncclUint8: return reduce_typed<uint8_t>(all, stride, first, count, nranks, op, out);
    case ncclFloat16:
    case ncclBfloat16:
      for (size_t i = 0; i < count; ++i) {
        float acc = load(t, all.data(), first + i);
        for (int r = 1; r < nranks; ++r) acc = combine(acc, load(t, all.data() + r * stride, first + i), op);
        if (op == ncclAvg) acc /= static_cast<float>(nranks);
        const uint16_t h = t == ncclFloat16 ? ft::kern::f32_to_f16(acc) : ft::kern::f32_to_bf16(acc);
        std::memcpy(static_cast<unsigned char*>(out) + 2 * i, &h, 2);
      }
      return;
    default: return;
  }
}

// Common checks, the cross-rank agreement, then `run` (now, or at the outermost ncclGroupEnd).
ncclResult_t collective(ncclComm* c, Signature sig, std::function<ncclResult_t()> run) {
  const char* call = call_name(sig.kind);
  if (!c) return fail(nullptr, ncclInvalidArgument, ft::cat(call, ": comm is NULL"));
  if (type_size(static_cast<ncclDataType_t>(sig.dtype)) == 0 || sig.dtype == ncclFloat8e4m3 ||
      sig.dtype == ncclFloat8e5m2)
    return fail(c, ncclInvalidArgument, ft::cat(call, ": datatype ", sig.dtype, " is not supported"));
  if (sig.op >= ncclNumOps) return fail(c, ncclInvalidArgument, ft::cat(call, ": op ", sig.op, " is not a built-in op"));
  if (sig.root >= c->nranks)
    return fail(c, ncclInvalidArgument, ft::cat(call, ": root ", sig.root, " is not a rank of ", c->nranks));
  const int dev = ft::cuda::selected_device();
  if (dev != c->device)
    return fail(c, ncclInvalidUsage,
                ft::cat(call, ": the communicator belongs to device ", c->device, ", called on device ", dev));
  auto agreed = [c, sig, call, run = std::move(run)]() -> ncclResult_t {
    if (c->nranks > 1) {
      std::vector<Signature> all(static_cast<size_t>(c->nranks));
      if (ncclResult_t r = mpi_check(c, MPI_Allgather(&sig, sizeof sig, MPI_BYTE, all.data(), sizeof sig, MPI_BYTE, c->mpi),
                                     "MPI_Allgather");
          r != ncclSuccess)
        return r;
      for (int q = 0; q < c->nranks; ++q)
        if (std::memcmp(&all[q], &sig, sizeof sig) != 0)
          return fail(c, ncclInvalidUsage,
                      ft::cat(call, ": ranks disagree: rank ", c->rank, " called ", describe(sig), ", rank ", q,
                              " called ", describe(all[q]), " (real NCCL would hang or corrupt the result)"));
    }
    return run();
  };
  if (t_group_depth > 0) {
    t_group.push_back(std::move(agreed));
    return ncclSuccess;
  }
  return agreed();
}

// Every rank's `bytes` bytes at p, in rank order.
ncclResult_t gather_all(ncclComm* c, const void* p, size_t bytes, std::vector<unsigned char>& all) {
  all.resize(bytes * static_cast<size_t>(c->nranks));
  if (bytes > static_cast<size_t>(INT32_MAX))
    return fail(c, ncclInvalidArgument, ft::cat(bytes, " bytes: more than the stand-in moves in one call"));
  if (c->nranks == 1) {
    std::memcpy(all.data(), p, bytes);
    return ncclSuccess;
  }
  return mpi_check(c,
                   MPI_Allgather(p, static_cast<int>(bytes), MPI_BYTE, all.data(), static_cast<int>(bytes), MPI_BYTE,
                                 c->mpi),
                   "MPI_Allgather");
}

}  // namespace

extern "C" {

ncclResult_t ncclGetVersion(int* version) {
  if (!version) return ncclInvalidArgument;
  *version = NCCL_VERSION_CODE;
  return ncclSuccess;
}

const char* ncclGetErrorString(ncclResult_t r) {
  switch (r) {
    case ncclSuccess: return "no error";
    case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
    case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
    case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
    case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
    case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
    case ncclRemoteError: return "remote process exited or there was a network error";
    case ncclInProgress: return "NCCL operation in progress";
    default: return "unknown result code";
  }
}

const char* ncclGetLastError(ncclComm_t comm) { return comm ? comm->last_error.c_str() : g_last_error.c_str(); }

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
  if (!id) return fail(nullptr, ncclInvalidArgument, "ncclGetUniqueId: uniqueId is NULL");
  std::memset(id->internal, 0, sizeof id->internal);
  std::memcpy(id->internal, kMagic, sizeof kMagic);
  std::random_device rd;
  const uint64_t tag = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(getpid());
  std::memcpy(id->internal + 32, &tag, sizeof tag);
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
  if (!comm) return fail(nullptr, ncclInvalidArgument, "ncclCommInitRank: comm is NULL");
  if (nranks < 1 || rank < 0 || rank >= nranks)
    return fail(nullptr, ncclInvalidArgument, ft::cat("ncclCommInitRank: rank ", rank, " of ", nranks, " is invalid"));
  if (std::memcmp(id.internal, kMagic, sizeof kMagic) != 0)
    return fail(nullptr, ncclInvalidArgument, "ncclCommInitRank: the unique id is not one ncclGetUniqueId made");
  auto c = std::make_unique<ncclComm>();
  c->nranks = nranks, c->rank = rank, c->device = ft::cuda::selected_device();
  if (nranks > 1) {
    int initialized = 0, world = 0;
    MPI_Initialized(&initialized);
    if (!initialized)
      return fail(nullptr, ncclSystemError, "ncclCommInitRank: the emulator's NCCL transports over MPI; launch with mpirun");
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    if (world != nranks)
      return fail(nullptr, ncclInvalidUsage,
                  ft::cat("ncclCommInitRank: ", nranks, " ranks requested; the stand-in spans the mpirun job's ", world,
                          " processes"));
    if (ncclResult_t r = mpi_check(nullptr, MPI_Comm_split(MPI_COMM_WORLD, 0, rank, &c->mpi), "MPI_Comm_split");
        r != ncclSuccess)
      return r;
    MPI_Comm_set_errhandler(c->mpi, MPI_ERRORS_RETURN);
    // Every rank joined with the same id and a distinct rank, each on a device of its own.
    struct Join {
      char id[NCCL_UNIQUE_ID_BYTES];
      char host[64];
      int32_t rank, device;
    } me{}, *all = nullptr;
    std::memcpy(me.id, id.internal, sizeof me.id);
    gethostname(me.host, sizeof me.host - 1);
    me.rank = rank, me.device = c->device;
    std::vector<Join> joined(static_cast<size_t>(nranks));
    all = joined.data();
    if (ncclResult_t r = mpi_check(nullptr, MPI_Allgather(&me, sizeof me, MPI_BYTE, all, sizeof me, MPI_BYTE, c->mpi),
                                   "MPI_Allgather");
        r != ncclSuccess)
      return r;
    for (int q = 0; q < nranks; ++q) {
      if (std::memcmp(all[q].id, me.id, sizeof me.id) != 0)
        return fail(nullptr, ncclInvalidUsage, ft::cat("ncclCommInitRank: rank ", all[q].rank, " joined with another unique id"));
      if (all[q].rank != q)
        return fail(nullptr, ncclInvalidUsage, ft::cat("ncclCommInitRank: ranks are not 0..", nranks - 1, " (process ",
                                                       q, " is rank ", all[q].rank, ")"));
      if (q != rank && all[q].device == me.device && std::strcmp(all[q].host, me.host) == 0)
        return fail(nullptr, ncclInvalidUsage,
                    ft::cat("ncclCommInitRank: ranks ", std::min(q, rank), " and ", std::max(q, rank),
                            " both use device ", me.device, " of ", me.host, " (unsupported: real NCCL hangs)"));
    }
  }
  *comm = c.release();
  return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (!comm) return ncclInvalidArgument;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (comm->mpi != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm->mpi);
  delete comm;
  return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t comm) { return ncclCommDestroy(comm); }

ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
  if (!comm || !count) return ncclInvalidArgument;
  *count = comm->nranks;
  return ncclSuccess;
}

ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
  if (!comm || !rank) return ncclInvalidArgument;
  *rank = comm->rank;
  return ncclSuccess;
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* err) {
  if (!comm || !err) return ncclInvalidArgument;
  *err = ncclSuccess;  // every operation completed (or failed) when it was called
  return ncclSuccess;
}

ncclResult_t ncclGroupStart() {
  ++t_group_depth;
  return ncclSuccess;
}

ncclResult_t ncclGroupEnd() {
  if (t_group_depth == 0) return fail(nullptr, ncclInvalidUsage, "ncclGroupEnd: no matching ncclGroupStart");
  if (--t_group_depth > 0) return ncclSuccess;
  std::vector<std::function<ncclResult_t()>> ops;
  ops.swap(t_group);
  ncclResult_t result = ncclSuccess;
  for (auto& op : ops)
    if (ncclResult_t r = op(); r != ncclSuccess && result == ncclSuccess) result = r;
  (void)t_group_error;
  return result;
}

ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t) {
  const Signature sig{0, datatype, op, -1, count};
  return collective(comm, sig, [=]() -> ncclResult_t {
    const size_t bytes = count * type_size(datatype);
    if (!in_device_memory(comm, sendbuff, bytes, "ncclAllReduce", "sendbuff") ||
        !in_device_memory(comm, recvbuff, bytes, "ncclAllReduce", "recvbuff"))
      return ncclInvalidArgument;
    if (sendbuff != recvbuff && overlap(sendbuff, bytes, recvbuff, bytes))
      return fail(comm, ncclInvalidArgument, "ncclAllReduce: sendbuff and recvbuff overlap without being equal");
    std::vector<unsigned char> all;
    if (ncclResult_t r = gather_all(comm, sendbuff, bytes, all); r != ncclSuccess) return r;
    reduce(all, bytes, 0, count, comm->nranks, datatype, op, recvbuff);
    return ncclSuccess;
  });
}

ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype, int root,
                           ncclComm_t comm, cudaStream_t) {
  const Signature sig{1, datatype, -1, root, count};
  return collective(comm, sig, [=]() -> ncclResult_t {
    const size_t bytes = count * type_size(datatype);
    if (root < 0) return fail(comm, ncclInvalidArgument, ft::cat("ncclBroadcast: root ", root, " is negative"));
    if ((comm->rank == root && !in_device_memory(comm, sendbuff, bytes, "ncclBroadcast", "sendbuff")) ||
        !in_device_memory(comm, recvbuff, bytes, "ncclBroadcast", "recvbuff"))
      return ncclInvalidArgument;
    if (comm->rank == root && sendbuff != recvbuff) {
      if (overlap(sendbuff, bytes, recvbuff, bytes))
        return fail(comm, ncclInvalidArgument, "ncclBroadcast: sendbuff and recvbuff overlap without being equal");
      std::memcpy(recvbuff, sendbuff, bytes);
    }
    if (comm->nranks == 1 || bytes == 0) return ncclSuccess;
    if (bytes > static_cast<size_t>(INT32_MAX)) return fail(comm, ncclInvalidArgument, "ncclBroadcast: too large");
    return mpi_check(comm, MPI_Bcast(recvbuff, static_cast<int>(bytes), MPI_BYTE, root, comm->mpi), "MPI_Bcast");
  });
}

ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount, ncclDataType_t datatype,
                           ncclComm_t comm, cudaStream_t) {
  const Signature sig{2, datatype, -1, -1, sendcount};
  return collective(comm, sig, [=]() -> ncclResult_t {
    const size_t bytes = sendcount * type_size(datatype);
    const size_t total = bytes * static_cast<size_t>(comm->nranks);
    if (!in_device_memory(comm, sendbuff, bytes, "ncclAllGather", "sendbuff") ||
        !in_device_memory(comm, recvbuff, total, "ncclAllGather", "recvbuff (nranks x sendcount)"))
      return ncclInvalidArgument;
    const void* in_place = static_cast<const unsigned char*>(recvbuff) + comm->rank * bytes;
    if (sendbuff != in_place && overlap(sendbuff, bytes, recvbuff, total))
      return fail(comm, ncclInvalidArgument,
                  "ncclAllGather: sendbuff overlaps recvbuff but is not recvbuff + rank * sendcount (the in-place form)");
    std::vector<unsigned char> all;
    if (ncclResult_t r = gather_all(comm, sendbuff, bytes, all); r != ncclSuccess) return r;
    std::memcpy(recvbuff, all.data(), total);
    return ncclSuccess;
  });
}

ncclResult_t ncclReduceScatter(const void* sendbuff, void* recvbuff, size_t recvcount, ncclDataType_t datatype,
                               ncclRedOp_t op, ncclComm_t comm, cudaStream_t) {
  const Signature sig{3, datatype, op, -1, recvcount};
  return collective(comm, sig, [=]() -> ncclResult_t {
    const size_t bytes = recvcount * type_size(datatype);
    const size_t total = bytes * static_cast<size_t>(comm->nranks);
    if (!in_device_memory(comm, sendbuff, total, "ncclReduceScatter", "sendbuff (nranks x recvcount)") ||
        !in_device_memory(comm, recvbuff, bytes, "ncclReduceScatter", "recvbuff"))
      return ncclInvalidArgument;
    const void* in_place = static_cast<const unsigned char*>(sendbuff) + comm->rank * bytes;
    if (recvbuff != in_place && overlap(sendbuff, total, recvbuff, bytes))
      return fail(comm, ncclInvalidArgument,
                  "ncclReduceScatter: recvbuff overlaps sendbuff but is not sendbuff + rank * recvcount (the in-place form)");
    std::vector<unsigned char> all;
    if (ncclResult_t r = gather_all(comm, sendbuff, total, all); r != ncclSuccess) return r;
    reduce(all, total, comm->rank * recvcount, recvcount, comm->nranks, datatype, op, recvbuff);
    return ncclSuccess;
  });
}

}  // extern "C"
