// ftrain serve in process, on the CPU and (FT_TRAINER_CUDA) on the emulated CUDA device: a tiny BERT
// trained for a few steps is served on a free loopback port; a batch of texts posted with
// cpp-httplib's client is answered with the probabilities `ftrain predict` writes for the same texts
// on the same device (the same bits), and SIGTERM ends the server with status 0. (The full HTTP
// surface, concurrency and the lifecycle are tested through the binary: tests/cli/test_serve_e2e.py.)
#include <gtest/gtest.h>
#include <httplib.h>

#include <csignal>
#include <fstream>
#include <future>
#include <thread>

#include "io/config.h"
#include "tests/tools/tiny_workspace.h"
#include "tools/ftrain/commands.h"
#if defined(FT_TRAINER_CUDA)
#include "core/cuda/cuda_backend.h"
#endif

namespace ft::cli {
namespace {

TEST(Serve, AnswersAsPredictDoesAndStopsOnSigterm) {
  const std::string ws = make_workspace("serve", 0.0);
  TrainArgs t = tiny_args(ws, "trained");
  t.max_steps = 3;
  ASSERT_EQ(run_train(t, trainer_device()), 0);
  const std::vector<std::string> texts = {"the film was good and very great", "the film was awful a plot",
                                          "the film was dull", "great fun", ""};
  {
    std::ofstream f(ws + "/texts.csv");
    f << "text\n";
    for (const std::string& x : texts) f << "\"" << x << "\"\n";
  }
  TrainArgs p;
  p.model_name_or_path = t.output_dir;
  p.test_file = ws + "/texts.csv";
  p.output_file = ws + "/pred.jsonl";
  p.max_seq_length = t.max_seq_length;
  p.quiet = true;
  ASSERT_EQ(run_predict(p, trainer_device()), 0);
  std::vector<io::Json> expected;
  std::ifstream in(p.output_file);
  for (std::string line; std::getline(in, line);) expected.push_back(io::Json::parse(line));
  ASSERT_EQ(expected.size(), texts.size());

  TrainArgs s = p;
  s.port = 0;
  std::promise<int> port;
  std::future<int> rc = std::async(std::launch::async, [&] {
    return serve_model(s, trainer_device(), [&](int at) { port.set_value(at); });
  });
  httplib::Client client("127.0.0.1", port.get_future().get());
  io::Json body = {{"inputs", texts}};
  const httplib::Result r = client.Post("/predict", body.dump(), "application/json");
  ASSERT_TRUE(r) << "no answer";
  ASSERT_EQ(r->status, 200) << r->body;
  const io::Json got = io::Json::parse(r->body);
  ASSERT_EQ(got.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(got[i][0]["label"], expected[i]["label"]) << texts[i];
    for (const io::Json& d : got[i])
      EXPECT_EQ(d["score"].get<double>(), expected[i]["probabilities"][d["label"].get<std::string>()].get<double>())
          << texts[i] << " " << d["label"];
  }
  std::raise(SIGTERM);  // serve's handler turns it into a stop
  EXPECT_EQ(rc.get(), 0);
  std::filesystem::remove_all(ws);
}

}  // namespace
}  // namespace ft::cli
