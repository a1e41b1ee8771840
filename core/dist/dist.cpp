#include "core/dist/dist.h"

#include <mpi.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "core/error.h"

namespace ft::dist {
namespace {

std::map<DeviceType, CommunicatorFactory>& factories() {
  static std::map<DeviceType, CommunicatorFactory> f;
  return f;
}

const char* mpi_error(int code) {
  static thread_local char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, buf, &len);
  return buf;
}

// MPI calls return codes only if the error handler says so (set to MPI_ERRORS_RETURN at init).
void check(int code, const char* call) {
  if (code != MPI_SUCCESS) throw Error(cat(call, ": ", mpi_error(code)));
}

int int_count(int64_t n, const char* what) {
  FT_CHECK(n >= 0 && n <= INT_MAX, what, ": ", n, " elements is more than one MPI call takes (", INT_MAX, ")");
  return static_cast<int>(n);
}

// The MPI type of a dtype's elements for reductions; bytes for moving data of any dtype.
MPI_Datatype reduce_type(DType t, const char* what) {
  switch (t) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i64: return MPI_INT64_T;
    case DType::i32: return MPI_INT32_T;
    default: throw Error(cat(what, ": the MPI communicator reduces f32, f64, i32 and i64 tensors, not ", dtype_name(t)));
  }
}

void check_tensor(const Tensor& t, const char* what) {
  FT_CHECK(t.device().is_cpu(), what, ": the MPI communicator takes CPU tensors, not ", t.device().str());
  FT_CHECK(t.is_contiguous(), what, ": the tensor must be contiguous");
}

class MpiPending final : public Pending {
 public:
  explicit MpiPending(MPI_Request r) : req_(r) {}
  ~MpiPending() override {
    if (req_ != MPI_REQUEST_NULL) MPI_Wait(&req_, MPI_STATUS_IGNORE);
  }
  void wait() override { check(MPI_Wait(&req_, MPI_STATUS_IGNORE), "MPI_Wait"); }
  void poke() override {
    int done = 0;
    if (req_ != MPI_REQUEST_NULL) check(MPI_Test(&req_, &done, MPI_STATUS_IGNORE), "MPI_Test");
  }

 private:
  MPI_Request req_;
};

// CPU tensors over an MPI communicator.
class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm c) : comm_(c) {}
  const char* name() const override { return "mpi"; }
  void all_reduce(const Tensor& t, ReduceOp op) override {
    check_tensor(t, "all_reduce");
    check(MPI_Allreduce(MPI_IN_PLACE, t.raw_data(), int_count(t.numel(), "all_reduce"),
                        reduce_type(t.dtype(), "all_reduce"), op == ReduceOp::sum ? MPI_SUM : MPI_MAX, comm_),
          "MPI_Allreduce");
  }
  std::unique_ptr<Pending> all_reduce_start(const Tensor& t) override {
    check_tensor(t, "all_reduce");
    MPI_Request r = MPI_REQUEST_NULL;
    check(MPI_Iallreduce(MPI_IN_PLACE, t.raw_data(), int_count(t.numel(), "all_reduce"),
                         reduce_type(t.dtype(), "all_reduce"), MPI_SUM, comm_, &r),
          "MPI_Iallreduce");
    return std::make_unique<MpiPending>(r);
  }
  void broadcast(const Tensor& t, int root) override {
    check_tensor(t, "broadcast");
    check(MPI_Bcast(t.raw_data(), int_count(static_cast<int64_t>(t.nbytes()), "broadcast"), MPI_BYTE, root, comm_),
          "MPI_Bcast");
  }
  void all_gather(const Tensor& in, const Tensor& out) override {
    check_tensor(in, "all_gather");
    check_tensor(out, "all_gather");
    int size = 0;
    MPI_Comm_size(comm_, &size);
    FT_CHECK(in.dtype() == out.dtype() && out.numel() == in.numel() * size, "all_gather: ", size, " x ",
             in.numel(), " ", dtype_name(in.dtype()), " elements into ", out.numel(), " ", dtype_name(out.dtype()));
    const int bytes = int_count(static_cast<int64_t>(in.nbytes()), "all_gather");
    check(MPI_Allgather(in.raw_data(), bytes, MPI_BYTE, out.raw_data(), bytes, MPI_BYTE, comm_), "MPI_Allgather");
  }
  void reduce_scatter(const Tensor& in, const Tensor& out) override {
    check_tensor(in, "reduce_scatter");
    check_tensor(out, "reduce_scatter");
    int size = 0;
    MPI_Comm_size(comm_, &size);
    FT_CHECK(in.dtype() == out.dtype() && in.numel() == out.numel() * size, "reduce_scatter: ", in.numel(), " ",
             dtype_name(in.dtype()), " elements onto ", size, " x ", out.numel());
    check(MPI_Reduce_scatter_block(in.raw_data(), out.raw_data(), int_count(out.numel(), "reduce_scatter"),
                                   reduce_type(in.dtype(), "reduce_scatter"), MPI_SUM, comm_),
          "MPI_Reduce_scatter_block");
  }

 private:
  MPI_Comm comm_;
};

// A world of one: every collective is the identity (all_gather and reduce_scatter copy).
class SelfCommunicator final : public Communicator {
 public:
  const char* name() const override { return "self"; }
  void all_reduce(const Tensor&, ReduceOp) override {}
  std::unique_ptr<Pending> all_reduce_start(const Tensor&) override {
    struct Done final : Pending {
      void wait() override {}
    };
    return std::make_unique<Done>();
  }
  void broadcast(const Tensor&, int) override {}
  void all_gather(const Tensor& in, const Tensor& out) override { Tensor(out).copy_(in.reshape(out.shape())); }
  void reduce_scatter(const Tensor& in, const Tensor& out) override { Tensor(out).copy_(in.reshape(out.shape())); }
};

class SelfGroup final : public Group {
 public:
  SelfGroup() : Group(0, 1, 0) {}
  void barrier() override {}
  void all_reduce(double*, int64_t, ReduceOp) override {}
  void broadcast(void*, int64_t, int) override {}
  std::vector<std::string> all_gather(const std::string& mine) override { return {mine}; }

 protected:
  std::unique_ptr<Communicator> make_cpu_communicator() override { return std::make_unique<SelfCommunicator>(); }
};

class MpiGroup final : public Group {
 public:
  MpiGroup(int rank, int size, int local_rank) : Group(rank, size, local_rank) {}
  void barrier() override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  void all_reduce(double* v, int64_t n, ReduceOp op) override {
    check(MPI_Allreduce(MPI_IN_PLACE, v, int_count(n, "all_reduce"), MPI_DOUBLE, op == ReduceOp::sum ? MPI_SUM : MPI_MAX,
                        MPI_COMM_WORLD),
          "MPI_Allreduce");
  }
  void broadcast(void* bytes, int64_t n, int root) override {
    check(MPI_Bcast(bytes, int_count(n, "broadcast"), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
  std::vector<std::string> all_gather(const std::string& mine) override {
    const int n = int_count(static_cast<int64_t>(mine.size()), "all_gather");
    std::vector<int> sizes(static_cast<size_t>(size())), offsets(static_cast<size_t>(size()));
    check(MPI_Allgather(&n, 1, MPI_INT, sizes.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
    int64_t total = 0;
    for (int r = 0; r < size(); ++r) offsets[r] = int_count(total, "all_gather"), total += sizes[r];
    std::string all(static_cast<size_t>(total), '\0');
    check(MPI_Allgatherv(mine.data(), n, MPI_BYTE, all.data(), sizes.data(), offsets.data(), MPI_BYTE, MPI_COMM_WORLD),
          "MPI_Allgatherv");
    std::vector<std::string> out;
    for (int r = 0; r < size(); ++r) out.push_back(all.substr(offsets[r], sizes[r]));
    return out;
  }

 protected:
  std::unique_ptr<Communicator> make_cpu_communicator() override {
    return std::make_unique<MpiCommunicator>(MPI_COMM_WORLD);
  }
};

SelfGroup& self_group() {
  static SelfGroup g;
  return g;
}

std::unique_ptr<Group>& world_ptr() {
  static std::unique_ptr<Group> w;
  return w;
}

Group* g_current = nullptr;

bool launched_by_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

}  // namespace

void set_communicator_factory(DeviceType type, CommunicatorFactory f) { factories()[type] = std::move(f); }

std::string Group::describe() const { return cat("rank ", rank_, " of ", size_); }

Communicator& Group::communicator(Device d) {
  for (auto& [dev, c] : comms_)
    if (dev == d) return *c;
  std::unique_ptr<Communicator> c;
  if (d.is_cpu()) {
    c = make_cpu_communicator();
  } else if (size_ == 1) {
    c = std::make_unique<SelfCommunicator>();
  } else {
    auto it = factories().find(d.type);
    FT_CHECK(it != factories().end(), "no collectives for ", d.str(), " tensors in this build");
    c = it->second(*this, d);
  }
  comms_.emplace_back(d, std::move(c));
  return *comms_.back().second;
}

int local_rank_from_environment() {
  for (const char* v : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMIX_LOCAL_RANK"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return 0;
}

void init() {
  if (world_ptr()) return;
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!launched_by_mpirun() && !initialized) {
    world_ptr() = std::make_unique<SelfGroup>();
    return;
  }
  if (!initialized) {
    int provided = 0;
    check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  // The local rank among the processes of this node (one device each), from MPI itself when the
  // launcher did not say.
  int local = local_rank_from_environment();
  if (!std::getenv("OMPI_COMM_WORLD_LOCAL_RANK")) {
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local);
    MPI_Comm_free(&node);
  }
  if (size == 1) {
    world_ptr() = std::make_unique<SelfGroup>();
    return;
  }
  world_ptr() = std::make_unique<MpiGroup>(rank, size, local);
}

Group& world() {
  if (!world_ptr()) init();
  return *world_ptr();
}

Group& current() { return g_current ? *g_current : world(); }

void finalize() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  world_ptr().reset();  // communicators (NCCL's) go before MPI does
  if (initialized && !finalized) MPI_Finalize();
}

void abort_job(const std::string& message, int status) {
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n", message.c_str());
  std::fflush(stderr);
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, status);
  std::_Exit(status);
}

namespace {
// fn's error message, or empty when it returned.
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
    return {};
  } catch (const std::exception& e) {
    return *e.what() ? e.what() : "unknown error";
  }
}
}  // namespace

void on_main_process(Group& g, const std::function<void()>& fn) {
  if (!g.distributed()) return fn();
  const std::string err = g.rank() == 0 ? error_of(fn) : std::string();
  const std::vector<std::string> all = g.all_gather(err);
  if (!all[0].empty()) throw SharedError(all[0]);
}

void on_every_process(Group& g, const std::function<void()>& fn) {
  if (!g.distributed()) return fn();
  const std::vector<std::string> all = g.all_gather(error_of(fn));
  for (size_t r = 0; r < all.size(); ++r)
    if (!all[r].empty()) throw SharedError(cat("rank ", r, ": ", all[r]));
}

SingleProcess::SingleProcess() : prev_(g_current) { g_current = &self_group(); }
SingleProcess::~SingleProcess() { g_current = prev_; }

}  // namespace ft::dist
