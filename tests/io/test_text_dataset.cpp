// Text data sets: label kinds and mappings, JSONL, errors, the seeded split, and the real files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "core/error.h"
#include "io/text_dataset.h"

namespace ft::io {
namespace {

std::string write_temp(const std::string& name, const std::string& content) {
  const std::string p = ::testing::TempDir() + "ftds_" + std::to_string(::getpid()) + "_" + name;
  std::ofstream(p) << content;
  return p;
}

TEST(TextDataset, StringAndIntegerLabelsMapInSortedOrder) {
  const TextDataset s = load_text_dataset(write_temp("s.csv", "text,label\na,pos\nb,neg\nc,neu\nd,pos\n"), {});
  EXPECT_EQ(s.problem_type, "single_label_classification");
  EXPECT_EQ(s.label_names, (std::vector<std::string>{"neg", "neu", "pos"}));
  EXPECT_EQ(s.examples[0].label, 2);
  EXPECT_EQ(s.examples[3].line, 5);
  const TextDataset i = load_text_dataset(write_temp("i.tsv", "text\tlabel\na\t10\nb\t2\nc\t-1\n"), {});
  EXPECT_EQ(i.label_names, (std::vector<std::string>{"-1", "2", "10"}));  // numeric order
  EXPECT_EQ(i.examples[0].label, 2);
}

TEST(TextDataset, OptionalLabelsLoadTextsOnly) {
  TextDatasetOptions o;
  o.label_optional = true;
  const TextDataset c = load_text_dataset(write_temp("u.csv", "text\nfine\nawful\n"), o);
  EXPECT_FALSE(c.labelled);
  ASSERT_EQ(c.examples.size(), 2u);
  EXPECT_EQ(c.examples[1].label, -1);
  const TextDataset j = load_text_dataset(write_temp("u.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n"), o);
  EXPECT_FALSE(j.labelled);
  const TextDataset l = load_text_dataset(write_temp("l.csv", "text,label\nfine,pos\n"), o);
  EXPECT_TRUE(l.labelled);
  EXPECT_EQ(l.examples[0].label, 0);
  // Without label_optional a missing label column stays an error naming the columns.
  EXPECT_THROW(load_text_dataset(write_temp("u2.csv", "text\nfine\n"), {}), Error);
}

TEST(TextDataset, RegressionMultiLabelAndPairsFromJsonl) {
  TextDatasetOptions o;
  o.text_pair_column = "hypothesis";
  o.text_column = "premise";
  const TextDataset r = load_text_dataset(
      write_temp("r.jsonl", "{\"premise\": \"a\", \"hypothesis\": \"b\", \"label\": 0.5}\n\n"
                            "{\"premise\": \"c\", \"hypothesis\": \"d\", \"label\": 3}\n"),
      o);
  EXPECT_EQ(r.problem_type, "regression");
  EXPECT_EQ(r.examples[1].text_pair, "d");
  EXPECT_DOUBLE_EQ(r.examples[0].target, 0.5);
  const TextDataset m = load_text_dataset(
      write_temp("m.jsonl", "{\"text\": \"x\", \"label\": [\"sport\", \"news\"]}\n{\"text\": \"y\", \"label\": []}\n"), {});
  EXPECT_EQ(m.problem_type, "multi_label_classification");
  EXPECT_EQ(m.examples[0].labels, (std::vector<int64_t>{1, 0}));
  EXPECT_TRUE(m.examples[1].labels.empty());
}

TEST(TextDataset, ErrorsNameFileAndLine) {
  const std::string p = write_temp("e.csv", "review,label\na,pos\n");
  try {
    load_text_dataset(p, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), p + ": no column 'text' (columns: review, label)");
  }
  const std::vector<std::string> train_labels = {"neg", "pos"};
  try {
    load_text_dataset(write_temp("v.csv", "text,label\na,pos\nb,meh\n"), {}, &train_labels);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("v.csv:3: label 'meh' is not one of the 2 training labels"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(load_text_dataset(write_temp("empty.csv", "text,label\n"), {}), Error);
  TextDatasetOptions reg;
  reg.problem_type = "regression";
  EXPECT_THROW(load_text_dataset(write_temp("x.csv", "text,label\na,high\n"), reg), Error);
}

TEST(TextDataset, SeededValidationSplitIsDeterministicAndDisjoint) {
  std::string csv = "text,label\n";
  for (int i = 0; i < 100; ++i) csv += "t" + std::to_string(i) + "," + (i % 2 ? "a" : "b") + "\n";
  const std::string p = write_temp("split.csv", csv);
  TextDataset a = load_text_dataset(p, {}), b = load_text_dataset(p, {}), c = load_text_dataset(p, {});
  const TextDataset va = split_validation(a, 0.2, 7), vb = split_validation(b, 0.2, 7), vc = split_validation(c, 0.2, 8);
  ASSERT_EQ(va.examples.size(), 20u);
  EXPECT_EQ(a.examples.size(), 80u);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(va.examples[i].text, vb.examples[i].text);
  bool differs = false;
  for (size_t i = 0; i < 20; ++i) differs = differs || va.examples[i].text != vc.examples[i].text;
  EXPECT_TRUE(differs) << "another seed must give another split";
  for (const auto& v : va.examples)
    for (const auto& t : a.examples) ASSERT_NE(v.text, t.text);
}

TEST(TextDataset, ReadsRottenTomatoesAndReutersR8) {
  const char* d = std::getenv("FT_DATA_DIR");
  const std::string dir = d ? d : std::string(std::getenv("HOME")) + "/.cache/ftrain/data";
  TextDatasetOptions rt;
  rt.label_column = "category";
  const TextDataset r = load_text_dataset(dir + "/rotten_tomatoes/rotten_tomatoes_corpus.csv", rt);
  EXPECT_EQ(r.label_names, (std::vector<std::string>{"fresh", "plot", "rotten"}));
  EXPECT_EQ(r.examples.size(), 5022u);
  TextDatasetOptions r8;
  r8.text_column = "Text";
  r8.label_column = "Category";
  const TextDataset train = load_text_dataset(dir + "/reuters_r8/reuters-r8-train.tab", r8);
  EXPECT_EQ(train.label_names.size(), 8u);
  EXPECT_EQ(train.examples.size(), 5485u);
  const TextDataset test = load_text_dataset(dir + "/reuters_r8/reuters-r8-test.tab", r8, &train.label_names);
  EXPECT_EQ(test.examples.size(), 2189u);
}

}  // namespace
}  // namespace ft::io
