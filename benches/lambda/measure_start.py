#!/usr/bin/env python3
"""Start-to-ready time and peak RSS of Lambda binaries, against a local Runtime API stand-in.

For each binary: start it with the environment a Lambda function gets, time from exec until
it first asks the Runtime API for the next invocation (the moment a Lambda is "ready"), then
serve it one API Gateway event and read its peak RSS (VmHWM) after answering. Repeats, and
prints medians side by side with a hello-world lambda_http binary built with the same profile.

Usage: measure_start.py RUNS NAME=PATH [NAME=PATH ...]
A NAME ending in `+ssm` starts its binary with the key in SSM Parameter Store instead of the
environment (SSO_SECRET_KEY_PARAMETER, read at init): MEASURE_SSM_ENDPOINT names a moto server
(`python -m moto.server -p 5055`), where the parameter is put first as a SecureString.
Only loopback is used; every loop is bounded.
"""
import urllib.request
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time

EVENT = {
    "version": "2.0", "routeKey": "$default", "rawPath": "/healthz", "rawQueryString": "",
    "headers": {"host": "demoaws.sso.example"},
    "requestContext": {"accountId": "1", "apiId": "a", "domainName": "demoaws.sso.example",
                       "http": {"method": "GET", "path": "/healthz", "protocol": "HTTP/1.1",
                                "sourceIp": "127.0.0.1", "userAgent": "m"},
                       "requestId": "r", "routeKey": "$default", "stage": "$default",
                       "time": "22/Nov/2026:13:00:00 +0000", "timeEpoch": 1795352400000},
    "isBase64Encoded": False,
}


class Runtime(http.server.BaseHTTPRequestHandler):
    state = None  # set per run

    def log_message(self, *args):
        pass

    def do_GET(self):
        s = Runtime.state
        if s["first_next"] is None:
            s["first_next"] = time.monotonic()
        if s["served"]:
            s["asked_again"].set()
            time.sleep(5)  # the second "next" waits; the run is stopped before this returns
            self.send_response(204)
            self.end_headers()
            return
        s["served"] = True
        body = json.dumps(EVENT).encode()
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "req-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 10_000))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:1:function:f")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        Runtime.state["response"] = self.rfile.read(length)
        self.send_response(202)
        self.end_headers()


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


SSM_PARAMETER = "/sso/measure/secret-key"


def put_ssm_parameter(endpoint):
    """PutParameter on moto (SSM's JSON protocol; moto routes by the credential scope)."""
    body = json.dumps({"Name": SSM_PARAMETER, "Value": "00" * 32, "Type": "SecureString",
                       "Overwrite": True}).encode()
    req = urllib.request.Request(endpoint, data=body, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.PutParameter",
        "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/ssm/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()


def run_once(path, ssm=None):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Runtime)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Runtime.state = {"first_next": None, "served": False, "asked_again": threading.Event(), "response": None}
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "measure", "AWS_LAMBDA_FUNCTION_VERSION": "1",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_SESSION_TOKEN": "x",
        "SSO_TABLE": "sso", "SSO_BASE_DOMAIN": "sso.example", "SSO_LOG": "warn",
        "SSO_SECRET_KEY": "00" * 32,
    }
    if ssm:
        del env["SSO_SECRET_KEY"]
        env["SSO_SECRET_KEY_PARAMETER"] = SSM_PARAMETER
        env["AWS_ENDPOINT_URL_SSM"] = ssm
    # provided.al2023 keeps its trust store in one bundle file; Debian adds a directory of
    # ~300 hashed links that rustls-native-certs would read one by one. Point at the bundle
    # so the figure is the Lambda one (override with the environment to measure otherwise).
    env["SSL_CERT_FILE"] = os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    start = time.monotonic()
    proc = subprocess.Popen([path], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not Runtime.state["asked_again"].wait(20):
            raise RuntimeError(f"{path} did not serve an invocation within 20 s")
        ready_ms = (Runtime.state["first_next"] - start) * 1000
        rss = peak_rss_kib(proc.pid)
        ok = Runtime.state["response"] is not None
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server.shutdown()
    return ready_ms, rss, ok


def main():
    runs = int(sys.argv[1])
    rows = []
    for spec in sys.argv[2:]:
        name, path = spec.split("=", 1)
        ssm = None
        if name.endswith("+ssm"):
            ssm = os.environ["MEASURE_SSM_ENDPOINT"]
            put_ssm_parameter(ssm)
        results = [run_once(path, ssm) for _ in range(runs)]
        ready = statistics.median(r[0] for r in results)
        rss = max(r[1] for r in results)
        ok = all(r[2] for r in results)
        size = os.path.getsize(path)
        rows.append((name, ready, rss, size, ok))
    base = next((r[1] for r in rows if r[0] == "hello-world"), None)
    print(f"{'binary':<18}{'start-to-ready ms':>18}{'vs hello':>10}{'peak RSS MiB':>14}{'size MiB':>10}  answered")
    for name, ready, rss, size, ok in rows:
        ratio = f"{ready / base:.2f}x" if base else "-"
        print(f"{name:<18}{ready:>18.2f}{ratio:>10}{rss / 1024:>14.1f}{size / 1048576:>10.1f}  {ok}")


if __name__ == "__main__":
    main()
