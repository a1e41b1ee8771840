// The SIMT emulator's scheduler: blocks spread over a pool of OS threads, the CUDA threads of a
// block run as fibers (Boost.Context fcontext, or ucontext) on that one OS thread. A pass runs every runnable
// fiber in schedule order (fixed, reverse or seeded random) until it blocks at a barrier or warp
// collective or exits; the last arriver releases the others, so each phase starts in schedule
// order. A warp whose collective completes runs on at once up to its next block barrier, as
// independent warps may on the hardware. A pass in which nothing can run is a deadlock and is
// reported with every waiter's site.
// Design study and measured costs: ../shared/reference/simt-emulation.md.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#if defined(SIMT_UCONTEXT)
#include <ucontext.h>
#else
#include <boost/context/detail/fcontext.hpp>
#endif
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "kernels/simt/emu.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define SIMT_ASAN 1
#endif

#if !defined(SIMT_UCONTEXT)
namespace bcd = boost::context::detail;
#endif

namespace simt {
namespace {

// ---- options ----

Options options_from_env() {
  Options o;
  if (const char* s = std::getenv("SIMT_SCHEDULE")) {
    const std::string v = s;
    if (v == "fixed") o.schedule = Schedule::fixed;
    else if (v == "reverse") o.schedule = Schedule::reverse;
    else if (v == "random") o.schedule = Schedule::random;
    else throw Error("SIMT_SCHEDULE must be fixed, reverse or random, got '" + v + "'");
  }
  if (const char* s = std::getenv("SIMT_SEED")) o.seed = std::strtoull(s, nullptr, 10);
  if (const char* s = std::getenv("SIMT_STRICT")) o.strict = std::string(s) == "1";
  if (const char* s = std::getenv("SIMT_WORKERS")) o.workers = std::atoi(s);
  if (const char* s = std::getenv("SIMT_STACK_KB")) o.stack_kb = std::max<size_t>(16, std::strtoull(s, nullptr, 10));
  return o;
}

std::mutex g_options_mutex;
Options& options_ref() {
  static Options o = options_from_env();
  return o;
}

struct KernelAbort {
  std::string what;
};

std::string site(const char* file, int line) { return std::string(file) + ":" + std::to_string(line); }
std::string coord(uint3 v) {
  return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}

// ---- fiber stacks: mmap'd, with a PROT_NONE guard page so an overflow faults ----

struct Stack {
  void* base = nullptr;  // lowest address (guard page)
  size_t size = 0;       // including the guard page
  void* top() const { return static_cast<char*>(base) + size; }
  size_t usable() const { return size - static_cast<size_t>(sysconf(_SC_PAGESIZE)); }
};

Stack make_stack(size_t kb) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  Stack s;
  s.size = (kb * 1024 + page - 1) / page * page + page;
  s.base = mmap(nullptr, s.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (s.base == MAP_FAILED) throw Error("simt: cannot map a fiber stack");
  mprotect(s.base, page, PROT_NONE);
  return s;
}

// ---- fiber contexts: Boost.Context fcontext, or POSIX ucontext as the fallback (a switch costs
// about 40x more: swapcontext saves the signal mask with a system call) ----
#if defined(SIMT_UCONTEXT)
struct FiberCtx {
  ucontext_t uc;
};
#else
struct FiberCtx {
  bcd::fcontext_t c = nullptr;
};
#endif

// ---- per-block state ----

enum class State : uint8_t { runnable, at_barrier, at_warp, exited };

struct Thread {
  FiberCtx ctx;
  uint3 tid{};
  State state = State::runnable;
  const char* file = "";
  int line = 0;
  const char* what = "";
  uint64_t result = 0;
  void* asan_fake_stack = nullptr;
};

struct Collective {
  bool active = false;
  detail::WarpOp op{};
  uint32_t mask = 0, arrived = 0;
  int width = 32;
  const char* file = "";
  int line = 0;
  uint64_t value[32] = {};
  int arg[32] = {};
};

struct Warp {
  uint32_t exited = 0;  // exited lanes, and lanes that do not exist in a partial last warp
  Collective slots[4];
};

struct Block {
  const std::function<void()>* body = nullptr;
  uint3 bid{};
  bool strict = false;
  int n = 0, exited = 0;
  std::vector<Thread> th;
  std::vector<Warp> warps;
  // barrier in progress
  int arrived = 0, count = 0;
  const char* bar_file = "";
  int bar_line = 0;
  // scheduler context of the current switch and the fiber running
  FiberCtx sched;
  int current = -1;
  const void* sched_stack_bottom = nullptr;
  size_t sched_stack_size = 0;
  std::string error;
  bool failed() const { return !error.empty(); }
  void fail(const std::string& e) {
    if (error.empty()) error = e;
  }
  std::string where(int i) const { return "thread " + coord(th[i].tid) + " of block " + coord(bid); }
};

thread_local Block* t_block = nullptr;
thread_local std::vector<unsigned char> t_dyn_smem;
constexpr size_t kSmemAlign = 128;  // as the hardware's dynamic shared memory base (WMMA needs 32)

// ---- switching ----

void yield_to_scheduler(Block& b, bool exiting) {
  Thread& me = b.th[b.current];
#ifdef SIMT_ASAN
  __sanitizer_start_switch_fiber(exiting ? nullptr : &me.asan_fake_stack, b.sched_stack_bottom, b.sched_stack_size);
#else
  (void)me;
  (void)exiting;
#endif
#if defined(SIMT_UCONTEXT)
  swapcontext(&me.ctx.uc, &b.sched.uc);
#else
  bcd::transfer_t t = bcd::jump_fcontext(b.sched.c, nullptr);
  b.sched.c = t.fctx;  // resumed by the scheduler (never when exiting)
#endif
#ifdef SIMT_ASAN
  __sanitizer_finish_switch_fiber(me.asan_fake_stack, &b.sched_stack_bottom, &b.sched_stack_size);
#endif
}

void release_barrier(Block& b);
std::string complete_collective(Block& b, Warp& w, Collective& c);
const char* op_name(detail::WarpOp op);

void on_exit(Block& b, int i) {
  b.th[i].state = State::exited;
  b.exited++;
  Warp& w = b.warps[i / 32];
  w.exited |= 1u << (i % 32);
  if (b.arrived > 0) {
    if (b.strict) {
      b.fail(b.where(i) + " exited while others wait at __syncthreads " + site(b.bar_file, b.bar_line));
      return;
    }
    if (b.arrived + b.exited == b.n) release_barrier(b);
  }
  for (Collective& c : w.slots)
    if (c.active && (c.arrived & (c.mask & ~w.exited)) == (c.mask & ~w.exited)) {
      const std::string e = complete_collective(b, w, c);
      if (!e.empty()) b.fail(e);
    }
}

void fiber_main() {
  Block& b = *t_block;
#ifdef SIMT_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &b.sched_stack_bottom, &b.sched_stack_size);
#endif
  const int me = b.current;
  try {
    (*b.body)();
  } catch (const KernelAbort& e) {
    b.fail(e.what);
  } catch (const std::exception& e) {
    b.fail(b.where(me) + ": exception in kernel: " + e.what());
  }
  b.current = me;
  on_exit(b, me);
  yield_to_scheduler(b, /*exiting=*/true);
  __builtin_unreachable();  // an exited fiber is never resumed
}

#if defined(SIMT_UCONTEXT)
void fiber_make(Thread& t, const Stack& s) {
  getcontext(&t.ctx.uc);
  t.ctx.uc.uc_stack.ss_sp = static_cast<char*>(s.top()) - s.usable();
  t.ctx.uc.uc_stack.ss_size = s.usable();
  t.ctx.uc.uc_link = nullptr;
  makecontext(&t.ctx.uc, fiber_main, 0);
}
void fiber_enter(Block& b, Thread& t) { swapcontext(&b.sched.uc, &t.ctx.uc); }
#else
void fiber_entry(bcd::transfer_t t) {
  static_cast<Block*>(t.data)->sched.c = t.fctx;
  fiber_main();
}
void fiber_make(Thread& t, const Stack& s) { t.ctx.c = bcd::make_fcontext(s.top(), s.usable(), fiber_entry); }
void fiber_enter(Block& b, Thread& t) {
  bcd::transfer_t r = bcd::jump_fcontext(t.ctx.c, &b);
  t.ctx.c = r.fctx;
}
#endif

// ---- barriers ----

void release_barrier(Block& b) {
  for (Thread& t : b.th) {
    if (t.state != State::at_barrier) continue;
    t.state = State::runnable;
    switch (static_cast<detail::BarrierKind>(t.result)) {
      case detail::BarrierKind::plain: t.result = 0; break;
      case detail::BarrierKind::count: t.result = static_cast<uint64_t>(b.count); break;
      case detail::BarrierKind::all: t.result = b.count == b.arrived; break;
      case detail::BarrierKind::any: t.result = b.count > 0; break;
    }
  }
  b.arrived = 0;
  b.count = 0;
}

// ---- warp collectives ----

std::string complete_collective(Block& b, Warp& w, Collective& c) {
  const int warp_base = static_cast<int>(&w - b.warps.data()) * 32;
  const bool shuffle_op = c.op == detail::WarpOp::shfl_idx || c.op == detail::WarpOp::shfl_up ||
                          c.op == detail::WarpOp::shfl_down || c.op == detail::WarpOp::shfl_xor;
  if (b.strict && !shuffle_op && (c.mask & w.exited)) {
    // Votes, __syncwarp and WMMA need every lane of the mask (shuffles are judged by what they read).
    c.active = false;
    const int missing = __builtin_ctz(c.mask & w.exited);
    return "block " + coord(b.bid) + ": " + op_name(c.op) + " at " + site(c.file, c.line) + ": lane " +
           std::to_string(missing) + " of warp " + std::to_string(warp_base / 32) +
           " is named in the mask but has exited (or does not exist)";
  }
  uint32_t ballot = 0;
  bool any = false, all = true;
  for (int l = 0; l < 32; ++l)
    if (c.arrived >> l & 1) {
      ballot |= (c.value[l] != 0 ? 1u : 0u) << l;
      any = any || c.value[l] != 0;
      all = all && c.value[l] != 0;
    }
  for (int l = 0; l < 32; ++l) {
    if (!(c.arrived >> l & 1)) continue;
    Thread& t = b.th[warp_base + l];
    const int seg = l / c.width * c.width, a = c.arg[l];
    int src = l;
    switch (c.op) {
      case detail::WarpOp::shfl_idx: src = seg + ((a % c.width) + c.width) % c.width; break;
      case detail::WarpOp::shfl_up: src = (l - seg) >= a ? l - a : l; break;
      case detail::WarpOp::shfl_down: src = (l - seg) + a < c.width ? l + a : l; break;
      case detail::WarpOp::shfl_xor: {
        const int x = l ^ a;
        src = (x < 32 && x < seg + c.width) ? x : l;  // later groups are out of reach
        break;
      }
      case detail::WarpOp::ballot: t.result = ballot; break;
      case detail::WarpOp::any: t.result = any; break;
      case detail::WarpOp::all: t.result = all; break;
      case detail::WarpOp::sync: t.result = 0; break;
    }
    const bool shuffle = c.op == detail::WarpOp::shfl_idx || c.op == detail::WarpOp::shfl_up ||
                         c.op == detail::WarpOp::shfl_down || c.op == detail::WarpOp::shfl_xor;
    if (shuffle) {
      if (c.arrived >> src & 1) {
        t.result = c.value[src];
      } else if (b.strict) {
        c.active = false;
        return b.where(warp_base + l) + ": shuffle at " + site(c.file, c.line) + ": lane " + std::to_string(l) +
               " reads lane " + std::to_string(src) + " which is exited or not in the mask (undefined)";
      } else {
        t.result = ~uint64_t(0);  // poison: NaN for floats
      }
    }
    t.state = State::runnable;
  }
  c.active = false;
  return "";
}

const char* op_name(detail::WarpOp op) {
  switch (op) {
    case detail::WarpOp::shfl_idx: return "__shfl_sync";
    case detail::WarpOp::shfl_up: return "__shfl_up_sync";
    case detail::WarpOp::shfl_down: return "__shfl_down_sync";
    case detail::WarpOp::shfl_xor: return "__shfl_xor_sync";
    case detail::WarpOp::ballot: return "__ballot_sync";
    case detail::WarpOp::any: return "__any_sync";
    case detail::WarpOp::all: return "__all_sync";
    case detail::WarpOp::sync: return "__syncwarp";
  }
  return "?";
}

Block& current_block(const char* what) {
  if (!t_block || t_block->current < 0)
    throw Error(std::string(what) + " called outside an emulated kernel");
  return *t_block;
}

// ---- worker pool ----

struct Job {
  const std::function<void()>* body;
  dim3 grid, block;
  size_t smem;
  Options opt;
  uint64_t total;
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::string error;
};

void run_block(Job& job, uint64_t linear, std::vector<Stack>& stacks) {
  Block b;
  b.body = job.body;
  b.strict = job.opt.strict;
  b.bid = uint3{static_cast<unsigned>(linear % job.grid.x), static_cast<unsigned>(linear / job.grid.x % job.grid.y),
                static_cast<unsigned>(linear / (static_cast<uint64_t>(job.grid.x) * job.grid.y))};
  b.n = static_cast<int>(job.block.x * job.block.y * job.block.z);
  b.th.resize(static_cast<size_t>(b.n));
  b.warps.resize(static_cast<size_t>((b.n + 31) / 32));
  if (b.n % 32) b.warps.back().exited = ~((1u << (b.n % 32)) - 1);  // lanes that do not exist
  while (stacks.size() < static_cast<size_t>(b.n)) stacks.push_back(make_stack(job.opt.stack_kb));
  for (int i = 0; i < b.n; ++i) {
    Thread& t = b.th[i];
    t.tid = uint3{static_cast<unsigned>(i % job.block.x), static_cast<unsigned>(i / job.block.x % job.block.y),
                  static_cast<unsigned>(i / (job.block.x * job.block.y))};
#ifdef SIMT_ASAN
    // A reused stack still carries the redzone poison of the frames its last fiber never returned from.
    ASAN_UNPOISON_MEMORY_REGION(static_cast<char*>(stacks[i].top()) - stacks[i].usable(), stacks[i].usable());
#endif
    fiber_make(t, stacks[i]);
  }
  t_dyn_smem.assign(job.smem + kSmemAlign, 0xFF);  // poisoned: reads before writes give NaN
  blockIdx = b.bid;
  blockDim = job.block;
  gridDim = job.grid;
  t_block = &b;
  std::mt19937_64 rng(job.opt.seed * 0x9E3779B97F4A7C15ull + linear);
  std::vector<int> order;
  while (b.exited < b.n && !b.failed()) {
    order.clear();
    for (int i = 0; i < b.n; ++i)
      if (b.th[i].state == State::runnable) order.push_back(i);
    if (order.empty()) {
      std::ostringstream os;
      os << "deadlock in block " << coord(b.bid) << ":";
      int shown = 0;
      for (int i = 0; i < b.n && shown < 8; ++i)
        if (b.th[i].state != State::exited) {
          os << " thread " << coord(b.th[i].tid) << " waits at " << b.th[i].what << " " << site(b.th[i].file, b.th[i].line)
             << ";";
          ++shown;
        }
      b.fail(os.str());
      break;
    }
    if (job.opt.schedule == Schedule::reverse) std::reverse(order.begin(), order.end());
    if (job.opt.schedule == Schedule::random) std::shuffle(order.begin(), order.end(), rng);
    auto run_thread = [&](int i) {
      b.current = i;
      threadIdx = b.th[i].tid;
#ifdef SIMT_ASAN
      void* fake = nullptr;
      __sanitizer_start_switch_fiber(&fake, static_cast<char*>(stacks[i].top()) - stacks[i].usable(), stacks[i].usable());
#endif
      fiber_enter(b, b.th[i]);
#ifdef SIMT_ASAN
      __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
    };
    for (int i : order) {
      if (b.th[i].state != State::runnable) continue;
      run_thread(i);
      // Warps run independently on the hardware: a warp whose collective just completed goes on at
      // once, up to its next block barrier, before the rest of the block's threads run. A read of
      // another warp's data that lacks a __syncthreads then sees it unwritten (poisoned) or stale.
      const int base = i / 32 * 32, end = std::min(base + 32, b.n);
      for (bool ran = true; ran && !b.failed();) {
        ran = false;
        for (int k = 0; k < end - base && !b.failed(); ++k) {
          const int lane = job.opt.schedule == Schedule::reverse ? end - 1 - k : base + k;
          if (b.th[lane].state != State::runnable) continue;
          run_thread(lane);
          ran = true;
        }
      }
      if (b.failed()) break;
    }
  }
  b.current = -1;
  t_block = nullptr;
  if (b.failed()) {
    std::lock_guard<std::mutex> lock(job.error_mutex);
    if (job.error.empty()) job.error = b.error;
    job.failed = true;
  }
}

void work(Job& job) {
  thread_local std::vector<Stack> stacks;
  for (;;) {
    if (job.failed) return;
    const uint64_t i = job.next.fetch_add(1);
    if (i >= job.total) return;
    run_block(job, i, stacks);
  }
}

class Pool {
 public:
  void run(Job& job, int workers) {
    std::unique_lock<std::mutex> lock(m_);
    while (static_cast<int>(threads_.size()) < workers - 1) threads_.emplace_back([this] { loop(); });
    job_ = &job;
    wanted_ = workers - 1;
    busy_ = 0;
    ++generation_;
    cv_.notify_all();
    lock.unlock();
    work(job);
    lock.lock();
    done_.wait(lock, [&] { return busy_ == 0 && wanted_ == 0; });
    job_ = nullptr;
  }

 private:
  void loop() {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      cv_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (wanted_ <= 0) continue;  // more workers than this launch asked for
      --wanted_;
      ++busy_;
      Job* job = job_;
      lock.unlock();
      work(*job);
      lock.lock();
      --busy_;
      done_.notify_all();
    }
  }
  std::mutex m_;
  std::condition_variable cv_, done_;
  std::vector<std::thread> threads_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  int wanted_ = 0, busy_ = 0;
};

std::mutex g_launch_mutex;
std::map<const void*, size_t> g_max_smem;
std::atomic<detail::PointerCheck> g_pointer_check{nullptr};

}  // namespace

Options options() {
  std::lock_guard<std::mutex> lock(g_options_mutex);
  return options_ref();
}

void set_options(const Options& o) {
  std::lock_guard<std::mutex> lock(g_options_mutex);
  options_ref() = o;
}

const char* schedule_name(Schedule s) {
  switch (s) {
    case Schedule::fixed: return "fixed";
    case Schedule::reverse: return "reverse";
    case Schedule::random: return "random";
  }
  return "?";
}

namespace detail {

int barrier(BarrierKind kind, int pred, const char* file, int line) {
  Block& b = current_block("__syncthreads");
  const int me = b.current;
  if (b.strict && b.exited > 0) {
    int gone = 0;
    while (b.th[gone].state != State::exited) ++gone;
    kernel_abort(b.where(me) + " waits at __syncthreads " + site(file, line) + " but " + b.where(gone) +
                 " has exited (divergent barrier)");
  }
  if (b.arrived == 0) {
    b.bar_file = file;
    b.bar_line = line;
  } else if (b.strict && (line != b.bar_line || std::strcmp(file, b.bar_file) != 0)) {
    kernel_abort("divergent __syncthreads: " + b.where(me) + " waits at " + site(file, line) +
                 " while others wait at " + site(b.bar_file, b.bar_line));
  }
  Thread& t = b.th[me];
  t.state = State::at_barrier;
  t.file = file;
  t.line = line;
  t.what = "__syncthreads";
  t.result = static_cast<uint64_t>(kind);
  b.count += pred != 0;
  b.arrived++;
  if (b.arrived + b.exited == b.n) release_barrier(b);
  yield_to_scheduler(b, false);
  return static_cast<int>(t.result);
}

uint64_t warp_op(WarpOp op, unsigned mask, uint64_t value, int arg, int width, const char* file, int line) {
  Block& b = current_block(op_name(op));
  const int me = b.current, lane = me % 32;
  Warp& w = b.warps[me / 32];
  if (width < 1 || width > 32 || (width & (width - 1)))
    kernel_abort(b.where(me) + ": " + op_name(op) + " at " + site(file, line) + ": width " + std::to_string(width) +
                 " is not a power of two in [1, 32]");
  if (!(mask >> lane & 1))
    kernel_abort(b.where(me) + ": " + op_name(op) + " at " + site(file, line) + ": calling lane " +
                 std::to_string(lane) + " is not in the mask");
  Collective* c = nullptr;
  for (Collective& s : w.slots) {
    if (!s.active) continue;
    if (s.mask == mask) {
      if (s.op != op)
        kernel_abort(b.where(me) + ": " + op_name(op) + " at " + site(file, line) + " meets " + op_name(s.op) +
                     " at " + site(s.file, s.line) + " with the same mask (mismatched warp collectives)");
      c = &s;
    } else if (s.mask & mask) {
      kernel_abort(b.where(me) + ": " + op_name(op) + " at " + site(file, line) + " overlaps " + op_name(s.op) +
                   " at " + site(s.file, s.line) + " (masks differ but share lanes)");
    }
  }
  if (!c) {
    for (Collective& s : w.slots)
      if (!s.active) {
        c = &s;
        break;
      }
    if (!c) kernel_abort(b.where(me) + ": too many concurrent warp collectives at " + site(file, line));
    *c = Collective{};
    c->active = true;
    c->op = op;
    c->mask = mask;
    c->width = width;
    c->file = file;
    c->line = line;
  }
  c->value[lane] = value;
  c->arg[lane] = arg;
  c->arrived |= 1u << lane;
  Thread& t = b.th[me];
  t.state = State::at_warp;
  t.file = file;
  t.line = line;
  t.what = op_name(op);
  const uint32_t required = c->mask & ~w.exited;
  if ((c->arrived & required) == required) {
    const std::string e = complete_collective(b, w, *c);
    if (!e.empty()) kernel_abort(e);
  }
  yield_to_scheduler(b, false);
  return t.result;
}

void* dynamic_smem_ptr() {
  current_block("dynamic_smem");
  const auto p = reinterpret_cast<uintptr_t>(t_dyn_smem.data());
  return t_dyn_smem.data() + ((kSmemAlign - p % kSmemAlign) % kSmemAlign);
}

void kernel_abort(const std::string& what) { throw KernelAbort{what}; }

void set_pointer_check(PointerCheck check) { g_pointer_check = check; }
PointerCheck pointer_check() { return g_pointer_check; }

void register_max_dynamic_smem(const void* kernel_id, size_t bytes) {
  if (bytes > 227 * 1024) throw Error("simt: max dynamic shared memory " + std::to_string(bytes) + " > 232448 bytes");
  std::lock_guard<std::mutex> lock(g_launch_mutex);
  g_max_smem[kernel_id] = bytes;
}

void launch_grid(const void* kernel_id, const char* name, dim3 grid, dim3 block, size_t smem,
                 const std::function<void()>& body) {
  std::lock_guard<std::mutex> lock(g_launch_mutex);
  const uint64_t threads = static_cast<uint64_t>(block.x) * block.y * block.z;
  auto bad = [&](const std::string& why) { throw Error(std::string("invalid launch of ") + name + ": " + why); };
  if (threads == 0 || threads > 1024) bad("block of " + std::to_string(threads) + " threads (1..1024 allowed)");
  if (block.z > 64) bad("block.z = " + std::to_string(block.z) + " > 64");
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) bad("empty grid");
  if (grid.y > 65535 || grid.z > 65535) bad("grid.y or grid.z > 65535");
  const auto it = g_max_smem.find(kernel_id);
  const size_t limit = it == g_max_smem.end() ? 48 * 1024 : it->second;
  if (smem > limit)
    bad("dynamic smem " + std::to_string(smem) + " > " + std::to_string(limit) +
        (it == g_max_smem.end() ? " (raise it with simt::set_max_dynamic_smem)" : ""));
  Job job;
  job.body = &body;
  job.grid = grid;
  job.block = block;
  job.smem = smem;
  job.opt = options();
  job.total = static_cast<uint64_t>(grid.x) * grid.y * grid.z;
  int workers = job.opt.workers > 0 ? job.opt.workers : static_cast<int>(std::thread::hardware_concurrency());
  workers = static_cast<int>(std::max<uint64_t>(1, std::min<uint64_t>(static_cast<uint64_t>(workers), job.total)));
  static Pool* pool = new Pool;  // never destroyed: worker threads live for the process
  pool->run(job, workers);
  if (job.failed) throw Error(job.error);
}

}  // namespace detail
}  // namespace simt
