// Data parallelism's process group: one process per device, launched by mpirun (one machine or many).
// Without mpirun a process is a world of one and nothing here talks to anyone.
//
// Two kinds of collectives:
// - device collectives (Communicator) on tensors where the model is: MPI for CPU memory, NCCL for CUDA
//   memory (registered by the CUDA backend; its communicator is bootstrapped through MPI);
// - host collectives on a few values (the step report, a stop flag, predictions): always MPI.
// Every rank must call the same collectives in the same order: the Trainer's control flow is the same
// on every rank, and whatever decides it (a loss, a signal, an error) is agreed through a collective.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace ft::dist {

enum class ReduceOp { sum, max };

// A collective started now that completes later (a gradient bucket's all-reduce during backward).
class Pending {
 public:
  virtual ~Pending() = default;
  virtual void wait() = 0;  // after it the result may be read (on CUDA: by later work on the stream)
  virtual void poke() {}    // lets a host-progressed collective (MPI) advance
};

// Collectives on tensors of one device type. Tensors are contiguous; results are written in place.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual const char* name() const = 0;  // "mpi" or "nccl"
  virtual void all_reduce(const Tensor& t, ReduceOp op) = 0;
  virtual std::unique_ptr<Pending> all_reduce_start(const Tensor& t) = 0;  // a sum
  virtual void broadcast(const Tensor& t, int root) = 0;
  // out holds size() x in.numel() elements, rank r's `in` at [r * in.numel(), ...).
  virtual void all_gather(const Tensor& in, const Tensor& out) = 0;
  // in holds size() x out.numel() elements; rank r receives the sum of every rank's slice r.
  virtual void reduce_scatter(const Tensor& in, const Tensor& out) = 0;
  // Collectives issued between these are launched together (NCCL's group calls; MPI: no-op).
  virtual void group_start() {}
  virtual void group_end() {}
};

class Group;
// How a device type's communicator is made (the CUDA backend registers NCCL's).
using CommunicatorFactory = std::function<std::unique_ptr<Communicator>(Group&, Device)>;
void set_communicator_factory(DeviceType type, CommunicatorFactory f);

class Group {
 public:
  virtual ~Group() = default;
  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }
  bool distributed() const { return size_ > 1; }
  // "rank 1 of 2" (messages name the rank that reports them).
  std::string describe() const;

  // The device collectives for tensors on `d` (made on first use, collectively: every rank asks).
  Communicator& communicator(Device d);

  // Host collectives (blocking).
  virtual void barrier() = 0;
  virtual void all_reduce(double* v, int64_t n, ReduceOp op) = 0;
  virtual void broadcast(void* bytes, int64_t n, int root) = 0;
  // Every rank's `mine`, in rank order (sizes may differ).
  virtual std::vector<std::string> all_gather(const std::string& mine) = 0;

 protected:
  Group(int rank, int size, int local_rank) : rank_(rank), size_(size), local_rank_(local_rank) {}
  virtual std::unique_ptr<Communicator> make_cpu_communicator() = 0;

 private:
  int rank_, size_, local_rank_;
  std::vector<std::pair<Device, std::unique_ptr<Communicator>>> comms_;
};

// Starts MPI when mpirun launched this process (OMPI_COMM_WORLD_SIZE or PMIX_RANK is set); otherwise
// the world is one process and MPI is never initialised. Idempotent.
void init();
// The process's group: every rank of the mpirun job, or a world of one.
Group& world();
// The group the Trainer runs over: world() unless a SingleProcess scope is active.
Group& current();
// Ends MPI cleanly (after the last collective); a world of one does nothing.
void finalize();
// Ends every rank of the job now (MPI_Abort), after `message` went to stderr. A world of one exits.
[[noreturn]] void abort_job(const std::string& message, int status);

// Within its scope current() is a world of one, even inside an mpirun job: a test's reference run,
// or work only rank 0 does.
class SingleProcess {
 public:
  SingleProcess();
  ~SingleProcess();
  SingleProcess(const SingleProcess&) = delete;
  SingleProcess& operator=(const SingleProcess&) = delete;

 private:
  Group* prev_;
};

// An error every rank raised together, with the same message (they agreed on it through a
// collective): the CLI prints it once, on rank 0, and every rank exits with status 1. Any other error
// is one rank's alone: that rank prints it naming itself and ends the job (abort_job).
class SharedError : public Error {
 public:
  using Error::Error;
};
// Runs fn on rank 0 while the others wait (what only rank 0 writes: checkpoints, the final model,
// logs). If it throws, every rank throws SharedError with its message.
void on_main_process(Group& g, const std::function<void()>& fn);
// Runs fn on every rank; if it throws on any, every rank throws SharedError with the message of the
// lowest failing rank (naming it when there are several ranks).
void on_every_process(Group& g, const std::function<void()>& fn);

// The local rank mpirun gave this process (OMPI_COMM_WORLD_LOCAL_RANK), 0 without mpirun.
int local_rank_from_environment();

}  // namespace ft::dist
