#!/usr/bin/env python3
"""ftrain serve end to end (standard library only): trains nothing itself; takes the ftrain binary
and a fine-tuned model directory, predicts a file with `ftrain predict`, then starts `ftrain serve`
on a free loopback port and checks
- every route (/health, /info, /metrics, /, /predict) and every error case: malformed JSON, wrong
  types, an empty list, a wrong pair shape, a body over the limit (413), a text over the maximum
  length with truncate false (413), an image to a text model (415), a batch over the limit (413),
  an unknown route (404), a wrong method (405), a missing or wrong API key (401), queue full (429);
- 200 requests from 16 concurrent clients, answered exactly as `ftrain predict` scored the same
  texts (labels equal, probabilities to 1e-5: batches of other sizes and padding round differently);
- a SIGTERM in the middle of a load: every request the server accepted is answered (200), the
  process exits 0, and later connections are refused.
Usage: test_serve_e2e.py FTRAIN MODEL_DIR DATA_CSV
       test_serve_e2e.py images FTRAIN IMAGE_MODEL_DIR PREDICTIONS_CSV   (an image model; see images_main)
"""
import csv
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


class Server:
    def __init__(self, ftrain, model, *extra, env=None):
        self.proc = subprocess.Popen([ftrain, "serve", "--model_name_or_path", model, "--port", "0", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        line = self.proc.stdout.readline()
        if "listening on http://127.0.0.1:" not in line:
            fail(f"serve did not start: {line}{self.proc.stdout.read()}")
        self.port = int(line.split("127.0.0.1:")[1].split()[0])
        for _ in range(100):  # wait for /health
            try:
                if self.get("/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        fail("no /health")

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data, r.getheader("Content-Type", "")

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def predict(self, payload, headers=None):
        body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        return self.request("POST", "/predict", body, {"Content-Type": "application/json", **(headers or {})})

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=60)
        return self.proc.returncode, out


def expect_error(status, data, want_status, want_text):
    if status != want_status:
        fail(f"status {status} (want {want_status}): {data[:300]}")
    j = json.loads(data)
    if set(j) != {"error", "error_type"} or want_text not in j["error"]:
        fail(f"error body {j} lacks '{want_text}'")


def main():
    ftrain, model, data = sys.argv[1:4]
    tmp = tempfile.mkdtemp()
    with open(data, newline="") as f:
        texts = [row["text"] for _, row in zip(range(50), csv.DictReader(f))]
    src = os.path.join(tmp, "texts.csv")
    with open(src, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text"])
        w.writerows([t] for t in texts)
    pred = os.path.join(tmp, "pred.jsonl")
    subprocess.run([ftrain, "predict", "--model_name_or_path", model, "--test_file", src, "--output_file", pred],
                   check=True, capture_output=True)
    expected = [json.loads(line) for line in open(pred)]

    s = Server(ftrain, model, "--max_batch_size", "16", "--payload_limit", "100000")
    # ---- routes
    status, body, ctype = s.get("/info")
    info = json.loads(body)
    if status != 200 or info["task"] != "text-classification" or info["max_batch_size"] != 16:
        fail(f"/info: {status} {body}")
    labels = info["labels"]
    status, body, ctype = s.get("/")
    if status != 200 or "text/html" not in ctype or b"/predict" not in body.replace(b"'predict'", b"/predict"):
        fail(f"/: {status} {ctype}")
    status, body, _ = s.predict({"inputs": texts[0]})
    one = json.loads(body)
    if status != 200 or [d["label"] for d in one] != sorted(labels, key=lambda l: -expected[0]["probabilities"][l]):
        fail(f"/predict one: {status} {body}")
    if abs(one[0]["score"] - expected[0]["score"]) > 1e-5:
        fail(f"/predict score {one[0]['score']} vs predict's {expected[0]['score']}")
    status, body, _ = s.predict({"inputs": texts[:3], "raw_scores": True})
    many = json.loads(body)
    if status != 200 or len(many) != 3:
        fail(f"/predict batch: {body}")
    for got, want in zip(many, expected):
        logits = dict(zip(labels, want["logits"]))
        for d in got:
            if abs(d["score"] - logits[d["label"]]) > 1e-4:
                fail(f"raw_scores {got} vs logits {want['logits']}")
    status, body, _ = s.predict({"inputs": [["a premise", "a hypothesis"]]})
    if status != 200 or len(json.loads(body)) != 1:
        fail(f"/predict pair: {status} {body}")

    # ---- bad input: JSON errors with the right status, and the server keeps serving
    expect_error(*s.predict("{not json")[:2], 400, "not valid JSON")
    expect_error(*s.predict({"inputs": 5})[:2], 400, "expected a string")
    expect_error(*s.predict({"text": "x"})[:2], 400, "missing field \"inputs\"")
    expect_error(*s.predict({"inputs": []})[:2], 400, "empty list")
    expect_error(*s.predict({"inputs": [["only one"]]})[:2], 400, "a pair must be a list of two strings")
    expect_error(*s.predict({"inputs": "x", "raw_scores": "yes"})[:2], 400, "must be true or false")
    expect_error(*s.predict({"inputs": "x" * 200000})[:2], 413, "larger than the limit")
    expect_error(*s.predict({"inputs": "word " * 600, "truncate": False})[:2], 413, "tokens")
    expect_error(*s.predict({"inputs": ["x"] * 17})[:2], 413, "batch size 17")
    expect_error(*s.request("POST", "/predict", b"\x89PNG", {"Content-Type": "image/png"})[:2], 415, "takes text")
    expect_error(*s.get("/nope")[:2], 404, "no route")
    expect_error(*s.get("/predict")[:2], 405, "use POST")
    expect_error(*s.request("POST", "/health", b"")[:2], 405, "use GET")
    status, body, _ = s.predict({"inputs": "word " * 600})  # truncated by default
    if status != 200:
        fail(f"a long input with truncate true: {status} {body}")
    status, body, ctype = s.get("/metrics")
    text = body.decode()
    for m in ('ftrain_requests_total{status="200"}', 'ftrain_requests_total{status="400"}', "ftrain_queue_size",
              "ftrain_request_duration_seconds_bucket", "ftrain_batch_size_bucket", "ftrain_tokens_total"):
        if m not in text:
            fail(f"/metrics lacks {m}")

    # ---- 200 requests from 16 clients, each answered as ftrain predict scored it
    errors, done, worst = [], [0], [0.0]
    lock = threading.Lock()

    def client(k):
        for i in range(k, 200, 16):
            j = i % len(texts)
            status, body, _ = s.predict({"inputs": texts[j]})
            got = json.loads(body) if status == 200 else None
            with lock:
                if status != 200:
                    errors.append(f"request {i}: {status} {body[:200]}")
                    continue
                done[0] += 1
                want = expected[j]
                worst[0] = max([worst[0]] + [abs(d["score"] - want["probabilities"][d["label"]]) for d in got])
                if got[0]["label"] != want["label"] or any(
                        abs(d["score"] - want["probabilities"][d["label"]]) > 1e-5 for d in got):
                    errors.append(f"request {i} ({texts[j][:40]}): {got} vs predict {want['probabilities']}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors or done[0] != 200:
        fail(f"{len(errors)} of 200 concurrent requests wrong: {errors[:3]}")
    print(f"200 requests from 16 clients in {time.time() - t0:.1f} s, all equal to ftrain predict's "
          f"(largest probability difference {worst[0]:.2e}; predict writes 6 significant digits)")
    _, body, _ = s.get("/metrics")
    batches = [l for l in body.decode().splitlines() if l.startswith("ftrain_batch_size_count")]
    inputs = [l for l in body.decode().splitlines() if l.startswith("ftrain_inputs_total")]
    print("batching:", batches[0], "/", inputs[0])

    # ---- SIGTERM in the middle of a load: no accepted request is lost
    results = []

    def loader():
        for i in range(60):
            try:
                status, body, _ = s.predict({"inputs": texts[i % len(texts)]})
                results.append(status)
            except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected) as e:
                results.append(type(e).__name__)

    threads = [threading.Thread(target=loader) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    rc, out = s.stop()
    for t in threads:
        t.join()
    answered = results.count(200)
    lost = [r for r in results if r not in (200, "ConnectionRefusedError")]
    if rc != 0:
        fail(f"serve exited {rc} after SIGTERM: {out[-500:]}")
    if lost or answered == 0:
        fail(f"SIGTERM under load: {answered} answered, lost or failed: {lost[:5]}")
    print(f"SIGTERM under load: {answered} requests answered, {results.count('ConnectionRefusedError')} refused "
          f"after the stop, none lost; exit {rc}")

    # ---- API key: 401 without it or with a wrong one (the page and /health stay open)
    s = Server(ftrain, model, env={**os.environ, "FTRAIN_API_KEY": "s3cret"})
    expect_error(*s.predict({"inputs": "x"})[:2], 401, "missing API key")
    expect_error(*s.predict({"inputs": "x"}, {"Authorization": "Bearer wrong"})[:2], 401, "wrong API key")
    expect_error(*s.get("/info")[:2], 401, "missing API key")
    if s.predict({"inputs": "x"}, {"Authorization": "Bearer s3cret"})[0] != 200 or s.get("/health")[0] != 200:
        fail("the right key, or /health, was refused")
    s.stop()

    # ---- queue full: 429 once --max_concurrent_requests are waiting
    s = Server(ftrain, model, "--max_concurrent_requests", "1", "--max_wait_ms", "300", "--max_batch_size", "64")
    statuses = []

    def burst():
        statuses.append(s.predict({"inputs": texts[:8]})[0])

    threads = [threading.Thread(target=burst) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if 429 not in statuses or 200 not in statuses:
        fail(f"--max_concurrent_requests 1 under a burst: {statuses}")
    _, body, _ = s.predict({"inputs": texts[:1]})
    s.stop()
    print(f"queue full: {statuses.count(429)} of 6 answered 429, {statuses.count(200)} answered 200")
    print("PASS")


def images_main():
    """An image model: image/* bodies and base64 JSON answered as `ftrain predict` scored the same
    files (PRED_CSV, with its image column), an undecodable image 400, text to an image model 400."""
    import base64
    ftrain, model, pred_csv = sys.argv[2:5]
    rows = list(csv.DictReader(open(pred_csv, newline="")))[:6]
    s = Server(ftrain, model)
    status, body, _ = s.get("/info")
    if json.loads(body)["task"] != "image-classification":
        fail(f"/info of an image model: {body}")

    def check(got, row, where):
        if got[0]["label"] != row["label"] or any(abs(d["score"] - float(row["prob_" + d["label"]])) > 1e-5 for d in got):
            fail(f"{where}: {got[:2]} vs predict's {row['label']} {row['score']}")

    for row in rows[:3]:
        data = open(row["image"], "rb").read()
        ctype = "image/png" if row["image"].endswith(".png") else "image/jpeg"
        status, body, _ = s.request("POST", "/predict", data, {"Content-Type": ctype})
        if status != 200:
            fail(f"{row['image']} as {ctype}: {status} {body[:200]}")
        check(json.loads(body), row, row["image"])
    encoded = [base64.b64encode(open(r["image"], "rb").read()).decode() for r in rows[3:6]]
    status, body, _ = s.predict({"inputs": encoded})
    if status != 200:
        fail(f"base64 batch: {status} {body[:200]}")
    for got, row in zip(json.loads(body), rows[3:6]):
        check(got, row, "base64 " + row["image"])
    expect_error(*s.request("POST", "/predict", b"\x89PNG\r\n\x1a\nnot really", {"Content-Type": "image/png"})[:2],
                 400, "cannot decode the image")
    expect_error(*s.predict({"inputs": "A triumph."})[:2], 400, "not valid base64")
    expect_error(*s.predict({"inputs": [["a", "b"]]})[:2], 400, "base64-encoded image")
    rc, _ = s.stop()
    if rc != 0:
        fail(f"serve exited {rc}")
    print("image model: image/png bodies and a base64 batch equal to ftrain predict's scores; bad images 400")
    print("PASS")


if __name__ == "__main__":
    images_main() if sys.argv[1] == "images" else main()
