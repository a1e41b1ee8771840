#include "tools/ftrain/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace ft::cli {
namespace {

double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }
double f1_of(double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; }

// Per-class true positives, predicted counts and true counts -> macro, micro, weighted P/R/F1.
void prf(const std::vector<double>& tp, const std::vector<double>& pred, const std::vector<double>& truth,
         std::map<std::string, double>& out) {
  const size_t c = tp.size();
  double sum_tp = 0, sum_pred = 0, sum_true = 0, total = 0;
  double mp = 0, mr = 0, mf = 0, wp = 0, wr = 0, wf = 0;
  for (size_t k = 0; k < c; ++k) {
    const double p = ratio(tp[k], pred[k]), r = ratio(tp[k], truth[k]), f = f1_of(p, r);
    mp += p, mr += r, mf += f;
    wp += p * truth[k], wr += r * truth[k], wf += f * truth[k];
    sum_tp += tp[k], sum_pred += pred[k], sum_true += truth[k];
    total += truth[k];
  }
  out["precision_macro"] = mp / c, out["recall_macro"] = mr / c, out["f1_macro"] = mf / c;
  out["precision_weighted"] = ratio(wp, total), out["recall_weighted"] = ratio(wr, total);
  out["f1_weighted"] = ratio(wf, total);
  const double p = ratio(sum_tp, sum_pred), r = ratio(sum_tp, sum_true);
  out["precision_micro"] = p, out["recall_micro"] = r, out["f1_micro"] = f1_of(p, r);
}

std::vector<double> ranks(const std::vector<double>& x) {
  std::vector<size_t> idx(x.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && x[idx[j + 1]] == x[idx[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = 0.5 * static_cast<double>(i + j) + 1.0;  // average rank
    i = j + 1;
  }
  return r;
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n, mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb), saa += (a[i] - ma) * (a[i] - ma), sbb += (b[i] - mb) * (b[i] - mb);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

}  // namespace

std::vector<int64_t> argmax_rows(const std::vector<float>& logits, int64_t n, int64_t c) {
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data() + i * c;
    out[i] = std::max_element(row, row + c) - row;
  }
  return out;
}

Metrics compute_metrics(const std::string& problem_type, const EvalPrediction& p) {
  Metrics m;
  FT_CHECK(p.n > 0, "metrics: no examples to evaluate");
  const int64_t c = p.num_labels;
  if (problem_type == "regression") {
    std::vector<double> pred(p.n), truth(p.n);
    double se = 0, ae = 0;
    for (int64_t i = 0; i < p.n; ++i) {
      pred[i] = p.logits[i * c], truth[i] = p.targets[i];
      se += (pred[i] - truth[i]) * (pred[i] - truth[i]);
      ae += std::abs(pred[i] - truth[i]);
    }
    m.scalars["mse"] = se / p.n;
    m.scalars["rmse"] = std::sqrt(se / p.n);
    m.scalars["mae"] = ae / p.n;
    m.scalars["pearson"] = pearson(pred, truth);
    m.scalars["spearman"] = pearson(ranks(pred), ranks(truth));
    return m;
  }
  if (problem_type == "multi_label_classification") {
    std::vector<double> tp(c, 0), pred(c, 0), truth(c, 0);
    int64_t exact = 0;
    for (int64_t i = 0; i < p.n; ++i) {
      bool all = true;
      for (int64_t k = 0; k < c; ++k) {
        const bool yp = p.logits[i * c + k] > 0, yt = p.targets[i * c + k] > 0.5f;
        tp[k] += yp && yt, pred[k] += yp, truth[k] += yt;
        all = all && yp == yt;
      }
      exact += all;
    }
    prf(tp, pred, truth, m.scalars);
    m.scalars["subset_accuracy"] = static_cast<double>(exact) / p.n;
    return m;
  }
  const std::vector<int64_t> yhat = argmax_rows(p.logits, p.n, c);
  m.confusion.assign(c, std::vector<int64_t>(c, 0));
  int64_t correct = 0;
  for (int64_t i = 0; i < p.n; ++i) {
    const int64_t t = p.label_ids[i];
    FT_CHECK(t >= 0 && t < c, "metrics: label ", t, " out of range for ", c, " classes");
    ++m.confusion[t][yhat[i]];
    correct += t == yhat[i];
  }
  m.scalars["accuracy"] = static_cast<double>(correct) / p.n;
  std::vector<double> tp(c, 0), pred(c, 0), truth(c, 0);
  for (int64_t t = 0; t < c; ++t)
    for (int64_t q = 0; q < c; ++q) {
      const double v = static_cast<double>(m.confusion[t][q]);
      truth[t] += v, pred[q] += v;
      if (t == q) tp[t] += v;
    }
  prf(tp, pred, truth, m.scalars);
  if (c == 2) {  // binary: the positive class is label id 1, as sklearn's pos_label=1
    m.scalars["precision"] = ratio(tp[1], pred[1]);
    m.scalars["recall"] = ratio(tp[1], truth[1]);
    m.scalars["f1"] = f1_of(m.scalars["precision"], m.scalars["recall"]);
  }
  // Matthews correlation, multi-class form (Gorodkin): (c*s - sum p_k t_k) / sqrt((s^2 - sum p^2)(s^2 - sum t^2)).
  const double s = static_cast<double>(p.n), cs = static_cast<double>(correct);
  double pt = 0, pp = 0, tt = 0;
  for (int64_t k = 0; k < c; ++k) pt += pred[k] * truth[k], pp += pred[k] * pred[k], tt += truth[k] * truth[k];
  const double den = std::sqrt((s * s - pp) * (s * s - tt));
  m.scalars["matthews_correlation"] = den > 0 ? (cs * s - pt) / den : 0.0;
  return m;
}

}  // namespace ft::cli
