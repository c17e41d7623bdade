"""rawhttp.py - tiny raw TCP servers on 127.0.0.1 for faults the simulator
cannot make (used by src/test/faults.py; standard library only).

RawServer(mode) listens on an ephemeral loopback port and counts the
requests it reads.  Modes:
  never_accept  listen with a full backlog: connects time out
  silent        accept and read, never answer (TLS or HTTP stall)
  rst_mid_body  headers with Content-Length, half the body, then RST
  http10        HTTP/1.0 response without Content-Length, close-delimited
  close_after_request  read the request, then close without a byte
  refuse_after_one  answer the first request with an empty list, then stop
                listening: later connections are refused (a write after the
                read that checks for the name, F1)
"""

import socket
import struct
import threading
import time

BODY = (b'{"status":200,"requestId":"raw-1","result":[' +
        b','.join(b'{"id":"00000000-0000-4000-8000-%012d","name":"raw%d","provider":"aws",'
                  b'"region":"us-east-1","state":"running"}' % (i, i) for i in range(50)) + b']}')


class RawServer:
    def __init__(self, mode, body=BODY):
        self.mode = mode
        self.body = body
        self.requests = 0
        self.conns = []
        self.fillers = []
        self.stop = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        if mode == "never_accept":
            self.sock.listen(0)
            self._fill_backlog()
        else:
            self.sock.listen(16)
            self.thread = threading.Thread(target=self._loop, daemon=True)
            self.thread.start()

    def _fill_backlog(self):
        # the kernel completes handshakes until the accept queue is full;
        # after that it drops SYNs, so a client's connect() times out
        for _ in range(64):
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            c.settimeout(0.3)
            try:
                c.connect(("127.0.0.1", self.port))
            except (socket.timeout, OSError):
                c.close()
                return
            self.fillers.append(c)

    def _loop(self):
        try:
            self.sock.settimeout(0.2)
        except OSError:
            return
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _read_request(self, c):
        data = b""
        c.settimeout(10)
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d:
                return False
            data += d
        self.requests += 1
        return True

    def _serve(self, c):
        try:
            if self.mode == "silent":
                c.settimeout(0.5)
                while not self.stop:
                    try:
                        if not c.recv(65536):
                            return
                    except socket.timeout:
                        continue
                return
            if not self._read_request(c):
                return
            if self.mode == "close_after_request":
                c.close()
            elif self.mode == "refuse_after_one":
                # stop listening before answering: the client connects again
                # only after the answer, and must be refused then.  A close()
                # alone would leave the socket listening while the accept
                # loop still polls it; shutdown() ends the listening at once.
                body = b'{"status":200,"requestId":"raw-empty","result":[]}'
                self.stop = True
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                self.sock.close()
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body) + body)
                c.close()
            elif self.mode == "rst_mid_body":
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(self.body) + self.body[:len(self.body) // 2])
                time.sleep(0.05)
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()
            elif self.mode == "http10":
                c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + self.body)
                c.shutdown(socket.SHUT_WR)
                c.close()
        except OSError:
            pass

    def close(self):
        self.stop = True
        for c in self.conns + self.fillers:
            try:
                c.close()
            except OSError:
                pass
        self.sock.close()
