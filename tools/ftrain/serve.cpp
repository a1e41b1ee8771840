// ftrain serve: a fine-tuned model behind an HTTP API, in the manner of Hugging Face's
// text-embeddings-inference (TEI): POST /predict, GET /health, /info, /metrics (Prometheus) and a
// page at / to try it. cpp-httplib (Debian's libcpp-httplib-dev) parses HTTP; its worker threads
// decode and validate requests and wait, and one inference thread owns the model: it takes queued
// requests into a batch (up to --max_batch_size inputs and --max_batch_tokens tokens, waiting at
// most --max_wait_ms for more after the first), runs it, and hands each request its rows.
// SIGTERM/SIGINT stop accepting connections, let the requests in flight finish, and exit 0.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/error.h"
#include "io/image.h"
#include "tools/ftrain/commands.h"
#include "tools/ftrain/report.h"
#include "tools/ftrain/serve_api.h"
#include "tools/ftrain/serve_page.h"
#include "tools/ftrain/task.h"

#ifndef FT_VERSION
#define FT_VERSION "unknown"
#endif

namespace ft::cli {
namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int sig) { g_stop = sig; }

// What httplib answered by itself (a malformed request line, a body over the limit, ...).
std::string reason(int status) {
  switch (status) {
    case 400: return "bad request (malformed HTTP)";
    case 408: return "request timeout";
    case 413: return "payload too large";
    case 414: return "URI too long";
    case 431: return "request header fields too large";
    default: return cat("HTTP status ", status);
  }
}

// Prometheus histogram with fixed upper bounds.
struct Histogram {
  std::vector<double> bounds;
  std::vector<int64_t> counts;  // per bucket (not cumulative); the last is +Inf
  double sum = 0;
  int64_t n = 0;
  explicit Histogram(std::vector<double> b) : bounds(std::move(b)), counts(bounds.size() + 1, 0) {}
  void add(double v) {
    size_t i = 0;
    while (i < bounds.size() && v > bounds[i]) ++i;
    ++counts[i], sum += v, ++n;
  }
  void write(std::ostringstream& o, const std::string& name, const std::string& help) const {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
    int64_t cum = 0;
    for (size_t i = 0; i < bounds.size(); ++i) {
      cum += counts[i];
      o << name << "_bucket{le=\"" << bounds[i] << "\"} " << cum << "\n";
    }
    o << name << "_bucket{le=\"+Inf\"} " << n << "\n" << name << "_sum " << sum << "\n" << name << "_count " << n << "\n";
  }
};

struct Metrics {
  std::mutex m;
  std::map<int, int64_t> requests_by_status;
  Histogram latency{{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
  Histogram batch_inputs{{1, 2, 4, 8, 16, 32, 64, 128, 256}};
  int64_t inputs = 0, tokens = 0, images = 0, batches = 0;
  double inference_seconds = 0;
};

// One request's inputs on their way through the queue.
struct Job {
  std::vector<RawInput> inputs;
  int64_t tokens = 0;
  std::promise<std::vector<float>> logits;  // inputs.size() x classes, or the batch's error
};
using JobPtr = std::shared_ptr<Job>;

class Server {
 public:
  Server(const TrainArgs& a, Task& task, Device device)
      : a_(a), task_(task), device_(device), images_(task.input_name() == "image") {}

  int run(const std::function<void(int)>& on_listening) {
    httplib::Server svr;
    // Each connection holds a worker while its requests wait for the model: enough workers for many
    // clients; admission is bounded by --max_concurrent_requests, not by the pool.
    const size_t workers = static_cast<size_t>(std::clamp<int64_t>(a_.max_concurrent_requests, 8, 256));
    svr.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
    svr.set_payload_max_length(static_cast<size_t>(a_.payload_limit));
    svr.set_keep_alive_max_count(1000);
    svr.set_read_timeout(30, 0);
    svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      return route_checks(req, res);
    });
    svr.set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      ApiError e{res.status, res.status == 413 ? "Validation" : "Http", reason(res.status)};
      if (res.status == 413) e.message = cat("the request body is larger than the limit of ", a_.payload_limit, " bytes");
      res.set_content(error_json(e), "application/json");
      count(res.status);
      return httplib::Server::HandlerResponse::Handled;
    }));
    svr.set_exception_handler([this](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      respond_error(res, ApiError{500, "Backend", "internal error"});
    });
    svr.Get("/", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(serve_page(), "text/html; charset=utf-8");
      count(200);
    });
    svr.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content("{\"status\":\"ok\"}", "application/json");
      count(200);
    });
    svr.Get("/info", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(info().dump(), "application/json");
      count(200);
    });
    svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_text(), "text/plain; version=0.0.4");
      count(200);
    });
    svr.Post("/predict", [this](const httplib::Request& req, httplib::Response& res) { predict(req, res); });

    int port = a_.port;
    if (port == 0) {
      port = svr.bind_to_any_port(a_.host);
      FT_CHECK(port > 0, "serve: cannot listen on ", a_.host, " (any port)");
    } else {
      FT_CHECK(svr.bind_to_port(a_.host, port), "serve: cannot listen on ", a_.host, ":", port,
               " (in use, or not an address of this machine)");
    }
    std::thread model_thread([this] { inference_loop(); });
    // Signals only set a flag; this thread turns it into a stop (httplib's stop is not signal-safe).
    g_stop = 0;
    auto old_term = std::signal(SIGTERM, on_stop_signal), old_int = std::signal(SIGINT, on_stop_signal);
    std::atomic<bool> done{false};
    std::thread watcher([&] {
      while (!done && !g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      svr.stop();
    });
    std::printf("ftrain serve: listening on http://%s:%d (%s, %s on %s; POST /predict, GET / for the page)\n",
                a_.host.c_str(), port, a_.model_name_or_path.c_str(), task_.problem_type().c_str(),
                device_.str().c_str());
    std::fflush(stdout);
    if (on_listening) on_listening(port);
    svr.listen_after_bind();  // returns once stopped and every worker has finished its request
    done = true;
    watcher.join();
    {
      std::lock_guard<std::mutex> lock(qm_);
      stopping_ = true;
    }
    qcv_.notify_all();
    model_thread.join();
    std::signal(SIGTERM, old_term);
    std::signal(SIGINT, old_int);
    std::printf("ftrain serve: stopped (%s); %lld requests answered\n", g_stop == SIGINT ? "SIGINT" : "SIGTERM",
                static_cast<long long>(answered_.load()));
    return 0;
  }

 private:
  // Routes and methods, then the API key: 404 for an unknown path, 405 for a known path with another
  // method, 401 without the key (every route but / and /health when --api_key is set).
  httplib::Server::HandlerResponse route_checks(const httplib::Request& req, httplib::Response& res) {
    static const std::map<std::string, std::string> routes = {
        {"/", "GET"}, {"/health", "GET"}, {"/info", "GET"}, {"/metrics", "GET"}, {"/predict", "POST"}};
    auto it = routes.find(req.path);
    if (it == routes.end()) {
      respond_error(res, ApiError{404, "NotFound", cat("no route ", clip(req.path, 100), " (routes: POST /predict, GET "
                                                                                        "/, /health, /info, /metrics)")});
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method != it->second && !(req.method == "HEAD" && it->second == "GET")) {
      res.set_header("Allow", it->second);
      respond_error(res, ApiError{405, "MethodNotAllowed", cat(clip(req.method, 20), " ", req.path, ": use ", it->second)});
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!key_.empty() && req.path != "/" && req.path != "/health") {
      const std::string auth = req.get_header_value("Authorization");
      const std::string given = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : std::string();
      if (!constant_time_equal(given, key_)) {
        res.set_header("WWW-Authenticate", "Bearer");
        respond_error(res, ApiError{401, "Unauthorized",
                                    auth.empty() ? "missing API key (Authorization: Bearer <key>)" : "wrong API key"});
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  }

  void predict(const httplib::Request& req, httplib::Response& res) {
    const auto t0 = Clock::now();
    PredictRequest pr;
    ApiError err;
    const std::string type = req.get_header_value("Content-Type");
    if (type.rfind("image/", 0) == 0) {
      if (!images_) {
        respond_error(res, ApiError{415, "Validation", "this model takes text: send JSON {\"inputs\": \"...\"}"});
        return;
      }
      pr.inputs.push_back(RawInput{"", "", false, req.body});
    } else if (!parse_predict_json(req.body, images_, pr, err)) {
      respond_error(res, err);
      return;
    }
    if (static_cast<int64_t>(pr.inputs.size()) > a_.max_batch_size) {
      respond_error(res, ApiError{413, "Validation", cat("batch size ", pr.inputs.size(), " > maximum allowed batch size ",
                                                         a_.max_batch_size, " (--max_batch_size)")});
      return;
    }
    auto job = std::make_shared<Job>();
    for (size_t i = 0; i < pr.inputs.size(); ++i) {
      RawInput& in = pr.inputs[i];
      const std::string where = pr.batch ? cat("inputs[", i, "]") : std::string("inputs");
      if (images_) {
        // Decoded here (not on the model's thread) so that a bad image fails alone, with its reason.
        try {
          (void)io::decode_image(reinterpret_cast<const unsigned char*>(in.image.data()), in.image.size(), where,
                                 a_.max_image_pixels);
        } catch (const std::exception& e) {
          respond_error(res, ApiError{400, "Validation", cat("cannot decode the image: ", e.what())});
          return;
        }
        continue;
      }
      const int64_t n = task_.raw_tokens(in);
      const int64_t max = task_.max_input_length();
      if (!pr.truncate && n > max) {
        respond_error(res, ApiError{413, "Validation", cat(where, " must have at most ", max, " tokens (--max_seq_length)"
                                                           "; given ", n, " (send \"truncate\": true to cut it)")});
        return;
      }
      job->tokens += std::min(n, max);
    }
    const size_t n_inputs = pr.inputs.size();
    job->inputs = std::move(pr.inputs);
    std::future<std::vector<float>> result = job->logits.get_future();
    if (!enqueue(job)) {
      respond_error(res, ApiError{429, "Overloaded", cat("model is overloaded: ", a_.max_concurrent_requests,
                                                         " requests are queued or running (--max_concurrent_requests)")});
      return;
    }
    std::vector<float> logits;
    try {
      logits = result.get();
    } catch (const std::exception& e) {
      respond_error(res, ApiError{400, "Validation", e.what()});
      return;
    }
    const int64_t c = task_.num_labels();
    io::Json out = io::Json::array();
    for (size_t i = 0; i < n_inputs; ++i)
      out.push_back(prediction_json(logits.data() + i * c, c, task_.label_names(), task_.problem_type(), pr.raw_scores));
    res.set_content(pr.batch ? out.dump() : out[0].dump(), "application/json");
    ++answered_;
    std::lock_guard<std::mutex> lock(metrics_.m);
    ++metrics_.requests_by_status[200];
    metrics_.latency.add(std::chrono::duration<double>(Clock::now() - t0).count());
  }

  bool enqueue(const JobPtr& job) {
    {
      std::lock_guard<std::mutex> lock(qm_);
      if (in_flight_ >= a_.max_concurrent_requests) return false;
      ++in_flight_;
      queue_.push_back(job);
    }
    qcv_.notify_one();
    return true;
  }

  // The model's thread: a batch is the requests queued when the first arrived plus those arriving
  // within --max_wait_ms, up to --max_batch_size inputs and --max_batch_tokens tokens; a request
  // never splits across batches.
  void inference_loop() {
    for (;;) {
      std::vector<JobPtr> batch;
      {
        std::unique_lock<std::mutex> lock(qm_);
        qcv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
        if (queue_.empty()) return;  // stopping, and nothing is left
        const auto deadline = Clock::now() + std::chrono::milliseconds(a_.max_wait_ms);
        int64_t n = 0, tokens = 0;
        for (;;) {
          while (!queue_.empty()) {
            const JobPtr& j = queue_.front();
            const int64_t jn = static_cast<int64_t>(j->inputs.size());
            if (!batch.empty() && (n + jn > a_.max_batch_size || tokens + j->tokens > a_.max_batch_tokens)) break;
            n += jn, tokens += j->tokens;
            batch.push_back(j);
            queue_.pop_front();
          }
          const bool full = !queue_.empty() || n >= a_.max_batch_size || tokens >= a_.max_batch_tokens;
          if (full || stopping_ || qcv_.wait_until(lock, deadline) == std::cv_status::timeout) {
            // one last look at what arrived at the deadline
            while (!queue_.empty()) {
              const JobPtr& j = queue_.front();
              const int64_t jn = static_cast<int64_t>(j->inputs.size());
              if (n + jn > a_.max_batch_size || tokens + j->tokens > a_.max_batch_tokens) break;
              n += jn, tokens += j->tokens;
              batch.push_back(j);
              queue_.pop_front();
            }
            break;
          }
        }
      }
      run_batch(batch);
      {
        std::lock_guard<std::mutex> lock(qm_);
        in_flight_ -= static_cast<int64_t>(batch.size());
      }
    }
  }

  void run_batch(const std::vector<JobPtr>& batch) {
    std::vector<RawInput> all;
    int64_t tokens = 0;
    for (const JobPtr& j : batch) {
      all.insert(all.end(), j->inputs.begin(), j->inputs.end());
      tokens += j->tokens;
    }
    const auto t0 = Clock::now();
    std::vector<float> logits;
    try {
      logits = infer(all);
    } catch (const std::exception&) {
      // One request's input broke the batch: run each alone, so only that one fails.
      if (batch.size() > 1) {
        for (const JobPtr& j : batch) run_batch({j});
        return;
      }
      batch[0]->logits.set_exception(std::current_exception());
      return;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const int64_t c = task_.num_labels();
    size_t at = 0;
    for (const JobPtr& j : batch) {
      const size_t rows = j->inputs.size() * static_cast<size_t>(c);
      j->logits.set_value(std::vector<float>(logits.begin() + at, logits.begin() + at + rows));
      at += rows;
    }
    std::lock_guard<std::mutex> lock(metrics_.m);
    metrics_.batch_inputs.add(static_cast<double>(all.size()));
    ++metrics_.batches;
    metrics_.inputs += static_cast<int64_t>(all.size());
    (images_ ? metrics_.images : metrics_.tokens) += images_ ? static_cast<int64_t>(all.size()) : tokens;
    metrics_.inference_seconds += seconds;
  }

  std::vector<float> infer(const std::vector<RawInput>& inputs) {
    NoGradGuard ng;
    std::optional<autocast::Guard> amp;
    if (task_.autocast_dtype != DType::f32) amp.emplace(task_.autocast_dtype);
    const Batch b = task_.collate_raw(inputs);
    return task_.logits(b, nullptr).detach().to(kCPU).to(DType::f32).contiguous().to_vector<float>();
  }

  void respond_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status;
    res.set_content(error_json(e), "application/json");
    count(e.status);
  }

  void count(int status) {
    std::lock_guard<std::mutex> lock(metrics_.m);
    ++metrics_.requests_by_status[status];
  }

  io::Json info() const {
    io::Json labels = io::Json::array();
    for (const std::string& l : task_.label_names()) labels.push_back(l);
    return io::Json{{"model_id", a_.model_name_or_path},
                    {"adapter", a_.adapter.empty() ? io::Json(nullptr) : io::Json(a_.adapter)},
                    {"task", images_ ? "image-classification" : "text-classification"},
                    {"problem_type", task_.problem_type()},
                    {"labels", labels},
                    {"device", device_.str()},
                    {"max_input_length", task_.max_input_length()},
                    {"max_batch_tokens", a_.max_batch_tokens},
                    {"max_batch_size", a_.max_batch_size},
                    {"max_wait_ms", a_.max_wait_ms},
                    {"max_concurrent_requests", a_.max_concurrent_requests},
                    {"payload_limit", a_.payload_limit},
                    {"auth", !key_.empty()},
                    {"version", FT_VERSION}};
  }

  std::string metrics_text() {
    std::ostringstream o;
    int64_t queued = 0;
    {
      std::lock_guard<std::mutex> lock(qm_);
      queued = static_cast<int64_t>(queue_.size());
    }
    std::lock_guard<std::mutex> lock(metrics_.m);
    o << "# HELP ftrain_requests_total HTTP requests answered, by status\n# TYPE ftrain_requests_total counter\n";
    for (auto& [status, n] : metrics_.requests_by_status) o << "ftrain_requests_total{status=\"" << status << "\"} " << n << "\n";
    o << "# HELP ftrain_queue_size requests waiting for the model\n# TYPE ftrain_queue_size gauge\n"
      << "ftrain_queue_size " << queued << "\n";
    metrics_.latency.write(o, "ftrain_request_duration_seconds", "time from a /predict request's arrival to its answer");
    metrics_.batch_inputs.write(o, "ftrain_batch_size", "inputs per batch the model ran");
    o << "# HELP ftrain_batches_total batches the model ran\n# TYPE ftrain_batches_total counter\nftrain_batches_total "
      << metrics_.batches << "\n";
    o << "# HELP ftrain_inputs_total inputs predicted\n# TYPE ftrain_inputs_total counter\nftrain_inputs_total "
      << metrics_.inputs << "\n";
    o << "# HELP ftrain_tokens_total tokens of the text inputs predicted\n# TYPE ftrain_tokens_total counter\n"
      << "ftrain_tokens_total " << metrics_.tokens << "\n";
    o << "# HELP ftrain_images_total images predicted\n# TYPE ftrain_images_total counter\nftrain_images_total "
      << metrics_.images << "\n";
    o << "# HELP ftrain_inference_seconds_total time the model ran\n# TYPE ftrain_inference_seconds_total counter\n"
      << "ftrain_inference_seconds_total " << metrics_.inference_seconds << "\n";
    return o.str();
  }

 public:
  void set_key(std::string k) { key_ = std::move(k); }

 private:
  const TrainArgs& a_;
  Task& task_;
  Device device_;
  bool images_;
  std::string key_;
  std::mutex qm_;
  std::condition_variable qcv_;
  std::deque<JobPtr> queue_;
  int64_t in_flight_ = 0;
  bool stopping_ = false;
  std::atomic<int64_t> answered_{0};
  Metrics metrics_;
};

}  // namespace

int run_serve(const TrainArgs& args, Device device) { return serve_model(args, device, nullptr); }

int serve_model(const TrainArgs& args, Device device, const std::function<void(int)>& on_listening) {
  validate(args, Command::serve);
  TrainArgs a = args;
  a.quiet = true;  // loading messages would go to stdout before the "listening" line
  Reporter rep(a, "");
  std::unique_ptr<Task> task = make_task(a, Command::serve, device, rep);  // a model that fails to load fails here
  task->model().eval();
  Server server(args, *task, device);
  const char* env_key = std::getenv("FTRAIN_API_KEY");
  server.set_key(!args.api_key.empty() ? args.api_key : env_key ? env_key : "");
  return server.run(on_listening);
}

}  // namespace ft::cli
