// Collectives on CUDA tensors through NCCL (the real library on a GPU build; the SIMT emulator's
// stand-in over MPI in test builds). One communicator per process, bootstrapped through the
// process group: rank 0 makes the unique id, MPI broadcasts it, every rank joins on its own device.
// Blocking collectives run on the calling thread's current stream. all_reduce_start (gradient
// buckets) runs on a stream of its own after an event of the current stream, so backward goes on
// while the bucket is reduced; wait() makes the current stream wait for it, without a host wait.
#include <nccl.h>

#include "core/cuda/cuda_backend.h"
#include "core/dist/dist.h"
#include "core/error.h"
#include "kernels/cuda/runtime.h"

namespace ft {
namespace {

void check(ncclResult_t r, ncclComm_t comm, const char* call) {
  if (r == ncclSuccess) return;
  const char* last = ncclGetLastError(comm);
  throw Error(cat(call, ": ", ncclGetErrorString(r), last && *last ? cat(" (", last, ")") : std::string()));
}

ncclDataType_t nccl_type(DType t, const char* what) {
  switch (t) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::f16: return ncclFloat16;
    case DType::bf16: return ncclBfloat16;
    case DType::i64: return ncclInt64;
    case DType::i32: return ncclInt32;
    case DType::boolean: return ncclUint8;
    default: throw Error(cat(what, ": no NCCL datatype for ", dtype_name(t)));
  }
}

cudaStream_t raw(cuda::Stream* s) { return reinterpret_cast<cudaStream_t>(s); }

void check_tensor(const Tensor& t, const char* what) {
  FT_CHECK(t.device().is_cuda(), what, ": the NCCL communicator takes CUDA tensors, not ", t.device().str());
  FT_CHECK(t.is_contiguous(), what, ": the tensor must be contiguous");
}

class NcclPending final : public dist::Pending {
 public:
  NcclPending(cuda::Stream* comm_stream) : done_(cuda::event_create()), comm_stream_(comm_stream) {
    cuda::event_record(done_, comm_stream_);
  }
  ~NcclPending() override { cuda::event_destroy(done_); }
  void wait() override { cuda::stream_wait_event(cuda::current_stream(), done_); }

 private:
  cuda::Event* done_;
  cuda::Stream* comm_stream_;
};

class NcclCommunicator final : public dist::Communicator {
 public:
  NcclCommunicator(dist::Group& g, Device d) : size_(g.size()), rank_(g.rank()) {
    use_cuda_device(d.index);
    ncclUniqueId id{};
    if (g.rank() == 0) check(ncclGetUniqueId(&id), nullptr, "ncclGetUniqueId");
    g.broadcast(&id, sizeof id, 0);
    check(ncclCommInitRank(&comm_, g.size(), id, g.rank()), nullptr, "ncclCommInitRank");
    comm_stream_ = cuda::stream_create();
    ready_ = cuda::event_create();
  }
  ~NcclCommunicator() override {
    cuda::event_destroy(ready_);
    cuda::stream_destroy(comm_stream_);
    ncclCommDestroy(comm_);
  }
  const char* name() const override { return "nccl"; }

  void all_reduce(const Tensor& t, dist::ReduceOp op) override {
    check_tensor(t, "all_reduce");
    check(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype(), "all_reduce"),
                        op == dist::ReduceOp::sum ? ncclSum : ncclMax, comm_, raw(cuda::current_stream())),
          comm_, "ncclAllReduce");
  }
  std::unique_ptr<dist::Pending> all_reduce_start(const Tensor& t) override {
    check_tensor(t, "all_reduce");
    cuda::event_record(ready_, cuda::current_stream());  // the bucket's gradients are written
    cuda::stream_wait_event(comm_stream_, ready_);
    check(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype(), "all_reduce"),
                        ncclSum, comm_, raw(comm_stream_)),
          comm_, "ncclAllReduce");
    return std::make_unique<NcclPending>(comm_stream_);
  }
  void broadcast(const Tensor& t, int root) override {
    check_tensor(t, "broadcast");
    check(ncclBroadcast(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), nccl_type(t.dtype(), "broadcast"),
                        root, comm_, raw(cuda::current_stream())),
          comm_, "ncclBroadcast");
  }
  void all_gather(const Tensor& in, const Tensor& out) override {
    check_tensor(in, "all_gather");
    check_tensor(out, "all_gather");
    FT_CHECK(in.dtype() == out.dtype() && out.numel() == in.numel() * size_, "all_gather: ", size_, " x ", in.numel(),
             " elements into ", out.numel());
    check(ncclAllGather(in.raw_data(), out.raw_data(), static_cast<size_t>(in.numel()), nccl_type(in.dtype(), "all_gather"),
                        comm_, raw(cuda::current_stream())),
          comm_, "ncclAllGather");
  }
  void reduce_scatter(const Tensor& in, const Tensor& out) override {
    check_tensor(in, "reduce_scatter");
    check_tensor(out, "reduce_scatter");
    FT_CHECK(in.dtype() == out.dtype() && in.numel() == out.numel() * size_, "reduce_scatter: ", in.numel(),
             " elements onto ", size_, " x ", out.numel());
    check(ncclReduceScatter(in.raw_data(), out.raw_data(), static_cast<size_t>(out.numel()),
                            nccl_type(in.dtype(), "reduce_scatter"), ncclSum, comm_, raw(cuda::current_stream())),
          comm_, "ncclReduceScatter");
  }
  void group_start() override { check(ncclGroupStart(), comm_, "ncclGroupStart"); }
  void group_end() override { check(ncclGroupEnd(), comm_, "ncclGroupEnd"); }

 private:
  int size_, rank_;
  ncclComm_t comm_ = nullptr;
  cuda::Stream* comm_stream_ = nullptr;
  cuda::Event* ready_ = nullptr;
};

}  // namespace

void install_nccl_collectives() {
  dist::set_communicator_factory(DeviceType::cuda, [](dist::Group& g, Device d) -> std::unique_ptr<dist::Communicator> {
    return std::make_unique<NcclCommunicator>(g, d);
  });
}

}  // namespace ft
