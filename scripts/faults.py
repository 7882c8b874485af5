#!/usr/bin/env python3
"""make faults: the service under faults, each scenario a scripted run that prints its result
and fails (exit 1) when a promise is broken.

    python3 scripts/faults.py CRM_BINARY [SCENARIO ...]

Scenarios (all by default):
  kill_postgres     kill -9 of the postmaster (and its backends) during a write-heavy load: requests in flight get
                    503 quickly, the server stays up and serves again within 2 s of PostgreSQL's
                    return, and every write answered 2xx is in the database afterwards
  pool_exhaustion   pool of 2 held by writes blocked on a table lock, 200 concurrent writes:
                    503 with Retry-After within the acquire timeout; normal service afterwards
  slow_clients      1,000 slow-loris and 1,000 idle keep-alive connections while a normal
                    client keeps its p99 under 50 ms
  disconnects       clients that vanish mid-request and mid-response, and one that never reads
                    its responses: the server stays up and answers the next client
  sigterm           SIGTERM under load: no truncated response, exit status 0
  memory            10,000 connections each holding a 15 KiB partial head, then 2,000 more each
                    holding a partial 60 KiB body (past the buffer budget the oldest are shed with
                    503), then 5,000 slow readers (4 KiB receive buffer, Internet-sized segments)
                    each asking for /openapi.yaml three times pipelined and never reading: the
                    server's RSS stays <= 256 MiB, a normal client's p99 stays under 50 ms, and
                    everything is released and answered after they go
  webhooks          8 writers for 60 s while crm serve is killed -9 twice and PostgreSQL once: every
                    committed change delivered to a local receiver (0 lost), none that was not
                    committed, every signature valid, duplicates printed (scripts/faults_webhooks.py)
  imports           a 200,000-row import run undisturbed, then again with crm serve killed -9 mid-job,
                    then with PostgreSQL killed -9 mid-job: the same final table, counts, rejected rows
                    and one created event per contact each time (scripts/faults_imports.py)

Each scenario gets its own throwaway PostgreSQL cluster (scripts/local-postgres.sh with its own
CRM_PG_ROOT and port), so killing it never touches the development cluster.
"""
import http.client
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCAL_PG = os.path.join(REPO, "scripts", "local-postgres.sh")
PG_PORT = 55441
HTTP_PORT = 18187


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


class Cluster:
    """A private PostgreSQL cluster under a temporary directory."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="crm-faults-")
        os.chmod(self.root, 0o755)
        self.env = dict(os.environ, CRM_PG_ROOT=self.root, CRM_PG_PORT=str(PG_PORT))

    def run(self, command):
        return subprocess.run(["bash", LOCAL_PG, command], env=self.env, check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()

    def start(self):
        # After a kill -9, orphaned backends may hold shared memory for a moment: retry.
        for _ in range(50):
            try:
                self.run("start")
                self.url = self.run("url")
                return
            except subprocess.CalledProcessError:
                time.sleep(0.2)
        raise Failure("PostgreSQL did not restart")

    def sql(self, statement):
        return subprocess.run(["psql", self.url, "-XtAqc", statement], check=True,
                              stdout=subprocess.PIPE, text=True).stdout.strip()

    def postmaster_pid(self):
        data = self.sql("SHOW data_directory")
        with open(os.path.join(data, "postmaster.pid")) as f:
            return int(f.readline())

    def kill_all(self):
        """kill -9 of the postmaster and, at the same moment, of every process it started: the
        server crashes as a whole (a lone postmaster kill leaves backends finishing their work)."""
        postmaster = self.postmaster_pid()
        children = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == postmaster:
                            children.append(int(entry))
                except (OSError, ValueError, IndexError):
                    pass
        for pid in [postmaster] + children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(children)

    def destroy(self):
        try:
            self.run("stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


class Server:
    """crm serve on HTTP_PORT against a cluster."""

    def __init__(self, binary, cluster, *arguments):
        env = dict(os.environ, DATABASE_URL=cluster.url)
        subprocess.run([binary, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        self.key = subprocess.run([binary, "key", "create", "--listing", "1", "--name", "faults"], env=env, check=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        self.log = open(os.path.join(cluster.root, "serve.log"), "w")
        self.process = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", str(HTTP_PORT), *arguments],
                                        env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise Failure("crm serve did not start")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


def request(method, path, body=None, key=None, timeout=10, connection=None):
    """One request; returns (status, headers, body, seconds). Raises OSError/HTTPException."""
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=timeout)
    headers = {}
    if key:
        headers["Authorization"] = "Bearer " + key
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    started = time.monotonic()
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), data, time.monotonic() - started
    finally:
        if own:
            connection.close()


def metric(name):
    """The value of an unlabelled series at /metrics."""
    _, _, body, _ = request("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise Failure(f"{name} not in /metrics")


def rss_mib(pid, field="VmRSS"):
    """The process's resident set (VmRSS) or its peak so far (VmHWM), in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise Failure(f"no {field} for {pid}")


def wait_until(condition, seconds, message):
    """Polls `condition` for up to `seconds`; `message` (text, or a function giving it) says what failed."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise Failure(f"not within {seconds} s: {message() if callable(message) else message}")
        time.sleep(0.05)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0


# MARK: Scenarios

def kill_postgres(binary, cluster):
    acquire_timeout = 2.0
    server = Server(binary, cluster, "--pool-size", "8", "--acquire-timeout", str(acquire_timeout))
    acknowledged, outcomes, lock = [], [], threading.Lock()
    stop = threading.Event()

    def writer(worker):
        counter = 0
        connection = None
        while not stop.is_set():
            counter += 1
            email = f"fault-{worker}-{counter}@example.com"
            try:
                connection = connection or http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=30)
                status, _, _, seconds = request("POST", "/crm/1", f"email={email}", server.key, connection=connection)
            except (OSError, http.client.HTTPException):
                connection = None
                status, seconds = None, None
            with lock:
                outcomes.append((time.monotonic(), status, seconds))
                if status is not None and 200 <= status < 300:
                    acknowledged.append(email)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(3)
        backends = cluster.kill_all()
        killed = time.monotonic()
        time.sleep(2)
        restarting = time.monotonic()
        cluster.start()
        back = time.monotonic()
        time.sleep(4)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    alive = server.process.poll() is None
    server.stop()

    present = set(cluster.sql("SELECT email FROM contacts WHERE listing_id = 1").split("\n"))
    lost = [email for email in acknowledged if email not in present]
    # Requests sent after the crash and answered before the restart began: PostgreSQL was gone.
    down = [o for o in outcomes if killed + 0.05 <= o[0] - (o[2] or 0) and o[0] <= restarting]
    slowest_down = max((o[2] for o in down if o[2] is not None), default=0)
    first_ok_after = min((o[0] for o in outcomes if o[0] > back and o[1] is not None and 200 <= o[1] < 300), default=None)
    recovery = (first_ok_after - back) if first_ok_after else None
    statuses = sorted({o[1] for o in down})
    print(f"  kill -9 of the postmaster and its {backends} processes under 16 writers")
    print(f"  writes answered 2xx: {len(acknowledged)}; while PostgreSQL was down: {len(down)} answers, "
          f"statuses {statuses}, slowest {slowest_down:.2f} s")
    print(f"  PostgreSQL restarted in {back - restarting:.2f} s; first 2xx {recovery:.2f} s after it was back" if recovery is not None else "  no 2xx after restart")
    print(f"  acknowledged writes lost: {len(lost)}")
    check(alive, "the server died")
    check(not lost, f"lost acknowledged writes, e.g. {lost[:3]}")
    check(down and statuses == [503], f"while down, every request is answered 503 (None: no answer): {statuses}")
    check(slowest_down <= acquire_timeout + 1.5, f"a request hung {slowest_down:.2f} s while PostgreSQL was down")
    check(recovery is not None and recovery <= 2.0, f"no 2xx within 2 s of PostgreSQL's return ({recovery})")


def pool_exhaustion(binary, cluster):
    acquire_timeout = 1.0
    server = Server(binary, cluster, "--pool-size", "2", "--acquire-timeout", str(acquire_timeout))
    try:
        # Writes block on this lock, so the pool's 2 connections stay busy for 4 s.
        holder = subprocess.Popen(["psql", cluster.url, "-Xq", "-o", "/dev/null", "-c",
                                   "BEGIN; LOCK TABLE contacts IN EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;"])
        time.sleep(0.5)
        results, lock = [], threading.Lock()

        def writer(n):
            try:
                status, headers, _, seconds = request("POST", "/crm/1", f"email=pool{n}@example.com", server.key, timeout=30)
            except (OSError, http.client.HTTPException) as error:
                status, headers, seconds = repr(error), {}, None
            with lock:
                results.append((status, headers.get("Retry-After"), seconds))

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(200)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        holder.wait()
        refused = [r for r in results if r[0] == 503]
        created = [r for r in results if r[0] == 201]
        slowest_refusal = max((r[2] for r in refused), default=0)
        print(f"  200 concurrent writes on a pool of 2: {len(created)} created, {len(refused)} refused with 503 "
              f"(slowest refusal {slowest_refusal:.2f} s), others {[r[0] for r in results if r[0] not in (201, 503)]}")
        status, _, _, seconds = request("POST", "/crm/1", "email=after@example.com", server.key)
        print(f"  afterwards: {status} in {seconds * 1000:.1f} ms")
        check(len(refused) + len(created) == 200, "every request is answered 201 or 503")
        check(len(refused) >= 190, "most requests are refused while the pool is held")
        check(all(r[1] == "1" for r in refused), "every 503 carries Retry-After")
        check(slowest_refusal <= acquire_timeout + 1.0, f"a refusal took {slowest_refusal:.2f} s")
        check(status == 201, "normal service afterwards")
    finally:
        server.stop()


def slow_clients(binary, cluster):
    server = Server(binary, cluster)
    sockets = []
    try:
        for n in range(1000):
            s = socket.create_connection(("127.0.0.1", HTTP_PORT))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finishes its head
            sockets.append(s)
        for n in range(1000):
            s = socket.create_connection(("127.0.0.1", HTTP_PORT))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(4096)  # answered, then idle
            sockets.append(s)
        stop = threading.Event()

        def drip():
            while not stop.wait(1):
                for s in sockets[:1000]:
                    try:
                        s.send(b"X-Slow: 1\r\n")
                    except OSError:
                        pass

        dripper = threading.Thread(target=drip)
        dripper.start()
        latencies = []
        connection = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=10)
        try:
            for n in range(500):
                status, _, _, seconds = request("GET", "/crm/1?email=nobody@example.com", key=server.key, connection=connection)
                check(status == 404, f"normal client got {status}")
                latencies.append(seconds)
        finally:
            stop.set()
            dripper.join()
        p99 = percentile(latencies, 0.99) * 1000
        print(f"  with 1,000 slow-loris and 1,000 idle connections open: normal client p50 "
              f"{percentile(latencies, 0.5) * 1000:.1f} ms, p99 {p99:.1f} ms over 500 requests")
        check(p99 < 50, f"p99 {p99:.1f} ms")
    finally:
        for s in sockets:
            s.close()
        server.stop()


def disconnects(binary, cluster):
    server = Server(binary, cluster)
    try:
        body = "email=gone@example.com&first_name=" + "x" * 50
        for n in range(200):  # half a request, then gone
            s = socket.create_connection(("127.0.0.1", HTTP_PORT))
            s.sendall(f"POST /crm/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.key}\r\n"
                      f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n{body[:20]}".encode())
            s.close()
        for n in range(200):  # a whole request, gone before the answer
            s = socket.create_connection(("127.0.0.1", HTTP_PORT))
            s.sendall(f"GET /crm/1?limit=1000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.key}\r\n\r\n".encode())
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
            s.close()
        reader = socket.create_connection(("127.0.0.1", HTTP_PORT))  # never reads
        reader.setblocking(False)
        sent = 0
        try:
            for n in range(20000):
                reader.send(b"GET /openapi.yaml HTTP/1.1\r\nHost: x\r\n\r\n")
                sent += 1
        except BlockingIOError:
            pass
        time.sleep(1)
        status, _, _, seconds = request("GET", "/healthz")
        print(f"  400 clients gone mid-request or mid-response, one pipelining {sent} requests it never reads: "
              f"the next client gets {status} in {seconds * 1000:.1f} ms")
        reader.close()
        check(server.process.poll() is None, "the server died")
        check(status == 200, "the next client is answered")
    finally:
        server.stop()


def sigterm(binary, cluster):
    server = Server(binary, cluster)
    results, lock = [], threading.Lock()
    stop = threading.Event()

    def client(worker):
        connection = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=20)
        counter = 0
        while not stop.is_set():
            counter += 1
            try:
                status, _, data, _ = request("POST", "/crm/1", f"email=term-{worker}-{counter}@example.com",
                                             server.key, connection=connection)
                outcome = "complete" if data.endswith(b"}") else "truncated"
            except http.client.IncompleteRead:
                outcome = "truncated"
            except (OSError, http.client.HTTPException):
                outcome = "refused"  # the server closed or stopped listening between requests
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=20)
                time.sleep(0.01)
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    server.process.send_signal(signal.SIGTERM)
    status = server.process.wait(30)
    stop.set()
    for thread in threads:
        thread.join()
    server.log.close()
    counts = {k: results.count(k) for k in ("complete", "truncated", "refused")}
    print(f"  SIGTERM under 32 writers: exit status {status}; responses {counts}")
    check(status == 0, f"exit status {status}")
    check(counts["truncated"] == 0, "a response was truncated")


def memory(binary, cluster):
    heads, bodies, readers = 10_000, 2_000, 5_000
    needed = heads + bodies + 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        check(hard == resource.RLIM_INFINITY or hard >= needed, f"RLIMIT_NOFILE hard limit {hard} is below {needed}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    # Room for every attacker, and a request timeout longer than the run, so nothing lets go early.
    server = Server(binary, cluster, "--max-connections", str(needed), "--request-timeout", "300")
    pid = server.process.pid
    sockets = []
    mib = 1024 * 1024

    def normal_client(count):
        latencies = []
        connection = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=10)
        try:
            for _ in range(count):
                status, _, _, seconds = request("GET", "/crm/1?email=nobody@example.com", key=server.key, connection=connection)
                check(status == 404, f"normal client got {status}")
                latencies.append(seconds)
        finally:
            connection.close()
        return percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000

    def connect(slow_reader):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if slow_reader:
            # A remote client's pace: without an Internet-sized segment, loopback's 64 KiB ones let
            # the server's kernel take megabytes, and nothing would wait in the server itself.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1460)
        s.settimeout(10)
        s.connect(("127.0.0.1", HTTP_PORT))
        return s

    def hold(count, data, slow_reader=False):
        for _ in range(count):
            s = connect(slow_reader)
            s.sendall(data)
            sockets.append(s)
        # Every connection reached the server: it is open, or was shed (503 and closed) for a newer one.
        wait_until(lambda: metric("crm_http_open_connections") + metric("crm_http_shed_connections_total") >= len(sockets), 30,
                   f"{len(sockets)} connections open or shed")

    def release(phase):
        for s in sockets:
            s.close()
        sockets.clear()
        gone = time.monotonic()
        # The scrape's own connection is the one left, holding its request while it is answered.
        wait_until(lambda: metric("crm_http_open_connections") <= 1 and metric("crm_http_buffered_bytes") < 1024, 60,
                   lambda: f"the server let go of the {phase} connections and buffers (open "
                           f"{metric('crm_http_open_connections'):.0f}, buffered {metric('crm_http_buffered_bytes'):.0f} bytes, "
                           f"paused {metric('crm_http_paused_connections'):.0f})")
        return time.monotonic() - gone

    def openapi_answers():
        _, _, body, _ = request("GET", "/metrics")
        prefix = 'crm_http_requests_total{route="/openapi.yaml",method="GET",status="200"} '
        return next((float(line[len(prefix):]) for line in body.decode().splitlines() if line.startswith(prefix)), 0)

    try:
        baseline = rss_mib(pid)
        prefix = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: "
        hold(heads, prefix + b"a" * (15 * 1024 - len(prefix)))  # never ends its head
        heads_rss, heads_buffered, heads_shed = rss_mib(pid), metric("crm_http_buffered_bytes"), metric("crm_http_shed_connections_total")
        heads_p50, heads_p99 = normal_client(500)
        body_head = (f"POST /crm/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.key}\r\n"
                     f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {60 * 1024}\r\n\r\n").encode()
        hold(bodies, body_head + b"b" * (59 * 1024))  # 1 KiB of its body never comes
        all_rss, all_buffered, all_shed = rss_mib(pid), metric("crm_http_buffered_bytes"), metric("crm_http_shed_connections_total")
        all_paused = metric("crm_http_paused_connections")
        all_p50, all_p99 = normal_client(500)
        released = release("partial requests'")
        after = [request("GET", "/crm/1?email=nobody@example.com", key=server.key)[0] for _ in range(200)]
        created = request("POST", "/crm/1", "email=after-memory@example.com", server.key)[0]
        print(f"  RSS {baseline:.0f} MiB at start; {heads:,} partial 15 KiB heads: RSS {heads_rss:.0f} MiB, "
              f"buffered {heads_buffered / mib:.0f} MiB, {heads_shed:.0f} shed; normal client p50 {heads_p50:.1f} ms, p99 {heads_p99:.1f} ms")
        print(f"  + {bodies:,} partial 60 KiB bodies: RSS {all_rss:.0f} MiB, buffered {all_buffered / mib:.0f} MiB, "
              f"{all_shed:.0f} shed in all, {all_paused:.0f} paused; normal client p50 {all_p50:.1f} ms, p99 {all_p99:.1f} ms")
        print(f"  after they went: connections and buffers released in {released:.1f} s; "
              f"200 GETs answered {sorted(set(after))}, a POST {created}")

        # Slow readers: three pipelined requests for the 66 KiB document each, never read.
        document = len(request("GET", "/openapi.yaml")[2])
        answered = openapi_answers()
        hold(readers, b"GET /openapi.yaml HTTP/1.1\r\nHost: x\r\n\r\n" * 3, slow_reader=True)
        wait_until(lambda: openapi_answers() >= answered + readers, 60, f"each of the {readers:,} slow readers answered once")
        readers_rss, readers_buffered = rss_mib(pid), metric("crm_http_buffered_bytes")
        readers_open, readers_shed = metric("crm_http_open_connections"), metric("crm_http_shed_connections_total") - all_shed
        readers_p50, readers_p99 = normal_client(500)
        peak = rss_mib(pid, "VmHWM")
        readers_released = release("slow readers'")
        after_readers = [request("GET", "/crm/1?email=nobody@example.com", key=server.key)[0] for _ in range(200)]
        print(f"  {readers:,} slow readers of /openapi.yaml ({document / 1024:.0f} KiB) x 3, unread: RSS {readers_rss:.0f} MiB, "
              f"buffered {readers_buffered / mib:.1f} MiB, {readers_open:.0f} open, {readers_shed:.0f} shed; "
              f"normal client p50 {readers_p50:.1f} ms, p99 {readers_p99:.1f} ms")
        print(f"  after they went: released in {readers_released:.1f} s; 200 GETs answered {sorted(set(after_readers))}; "
              f"peak RSS {peak:.0f} MiB")
        check(server.process.poll() is None, "the server died")
        check(peak <= 256, f"peak RSS {peak:.0f} MiB > 256 MiB")
        check(heads_p99 < 50 and all_p99 < 50 and readers_p99 < 50,
              f"normal client p99 {heads_p99:.1f} / {all_p99:.1f} / {readers_p99:.1f} ms")
        check(after == [404] * 200 and created == 201 and after_readers == [404] * 200, "everything answered after the attackers went")
    finally:
        for s in sockets:
            s.close()
        server.stop()


def webhooks(binary, cluster):
    import faults_webhooks  # scripts/faults_webhooks.py, which imports this file's helpers
    try:
        faults_webhooks.webhooks(binary, cluster)
    except Exception as failure:  # its Failure is the imported module's class, not this one
        if type(failure).__name__ != "Failure":
            raise
        raise Failure(str(failure))


def imports(binary, cluster):
    import faults_imports  # scripts/faults_imports.py, which imports this file's helpers
    try:
        faults_imports.imports(binary, cluster)
    except Exception as failure:  # its Failure is the imported module's class, not this one
        if type(failure).__name__ != "Failure":
            raise
        raise Failure(str(failure))


SCENARIOS = {"kill_postgres": kill_postgres, "pool_exhaustion": pool_exhaustion, "slow_clients": slow_clients,
             "disconnects": disconnects, "sigterm": sigterm, "memory": memory, "webhooks": webhooks, "imports": imports}


def main():
    binary, names = os.path.abspath(sys.argv[1]), sys.argv[2:] or list(SCENARIOS)
    failed = []
    for name in names:
        print(f"{name}:", flush=True)
        cluster = Cluster()
        try:
            cluster.start()
            SCENARIOS[name](binary, cluster)
            print("  ok", flush=True)
        except Failure as failure:
            print(f"  FAILED: {failure}", flush=True)
            failed.append(name)
        finally:
            cluster.destroy()
    print(f"faults: {len(names) - len(failed)} of {len(names)} scenarios passed" + (f"; failed: {failed}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
