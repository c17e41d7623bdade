"""tlsserver.py - an HTTPS front for the API simulator, for the TLS faults
of the matrix (F27; used by src/test/faults.py; standard library and the
openssl command only).

make_certs(dir) writes, with the openssl command line tool:
  ca.pem / ca.key      a private CA
  good.pem             127.0.0.1 and localhost, issued by the CA
  wronghost.pem        wrong.pgapi-fdw-test.invalid only, issued by the CA
  expired.pem          127.0.0.1, issued by the CA, valid in January 2020 only
  selfsigned.pem       127.0.0.1, self-signed (it is its own CA)
  other-ca.pem         an unrelated CA that issued none of these
Each leaf's key is NAME.key.

TlsProxy(certfile, keyfile, upstream, tls10_only=False) listens on an
ephemeral loopback port, completes the TLS handshake in a thread per
connection, and forwards each HTTP/1.1 request (keep-alive supported) to
the upstream simulator, answering with its status, Content-Type and body.
It counts connections, completed handshakes, failed handshakes (with the
error text) and forwarded requests.  tls10_only makes it speak TLS 1.0 and
nothing else (OpenSSL 3 needs security level 0 for that).
"""

import http.client
import os
import socket
import ssl
import subprocess
import threading
import urllib.parse

EXT_LEAF = ("basicConstraints = critical, CA:FALSE\n"
            "keyUsage = critical, digitalSignature, keyEncipherment\n"
            "extendedKeyUsage = serverAuth\n"
            "subjectAltName = %s\n")

CA_CONF = """[ca]
default_ca = tca
[tca]
dir = {d}
database = {d}/index.txt
new_certs_dir = {d}
serial = {d}/serial
default_md = sha256
policy = pol
unique_subject = no
[pol]
commonName = supplied
"""


def _openssl(*args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], p.stdout.strip()[-400:]))


def _key_and_csr(d, name, cn):
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=d)


def _self_signed_ca(d, name, cn):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + cn,
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=d)


def make_certs(d):
    """Write the certificates described above into directory d."""
    _self_signed_ca(d, "ca", "pgapi_fdw test CA")
    _self_signed_ca(d, "other-ca", "pgapi_fdw unrelated CA")
    for name, san in (("good", "IP:127.0.0.1, DNS:localhost"),
                      ("wronghost", "DNS:wrong.pgapi-fdw-test.invalid")):
        _key_and_csr(d, name, "127.0.0.1" if name == "good" else "wrong.pgapi-fdw-test.invalid")
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(EXT_LEAF % san)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-sha256", "-extfile", name + ".ext", "-out", name + ".pem",
                 cwd=d)
    # expired: `openssl x509` cannot backdate, `openssl ca` can
    _key_and_csr(d, "expired", "127.0.0.1")
    with open(os.path.join(d, "expired.ext"), "w") as f:
        f.write(EXT_LEAF % "IP:127.0.0.1, DNS:localhost")
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write(CA_CONF.format(d=d))
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("1000\n")
    _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "expired.csr",
             "-out", "expired.pem", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
             "-extfile", "expired.ext", "-notext", cwd=d)
    # self-signed leaf: the certificate is its own trust anchor
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "selfsigned.key", "-out", "selfsigned.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", cwd=d)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    os.chmod(d, 0o755)


def server_context(certfile, keyfile, tls10_only=False):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    if tls10_only:
        # TLS 1.0 signs its handshake with SHA-1/MD5: OpenSSL 3 allows that
        # only at security level 0
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1
    return ctx


class TlsProxy:
    def __init__(self, certfile, keyfile, upstream, tls10_only=False):
        self.ctx = server_context(certfile, keyfile, tls10_only)
        u = urllib.parse.urlsplit(upstream)
        self.up_host, self.up_port = u.hostname, u.port
        self.lock = threading.Lock()
        self.connections = 0
        self.handshakes = 0
        self.failed = []
        self.requests = 0
        self.versions = []
        self.stop = False
        self.socks = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._loop, daemon=True).start()

    def counts(self):
        with self.lock:
            return self.connections, self.handshakes, len(self.failed), self.requests

    def _loop(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.socks.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, raw):
        raw.settimeout(10)
        try:
            s = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            with self.lock:
                self.failed.append(str(e))
            raw.close()
            return
        with self.lock:
            self.handshakes += 1
            self.versions.append(s.version())
        try:
            f = s.makefile("rb")
            while not self.stop:
                line = f.readline(65536)
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers = {}
                while True:
                    h = f.readline(65536)
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, v = h.decode("latin-1").split(":", 1)
                    headers[k.strip().lower()] = v.strip()
                body = f.read(int(headers.get("content-length", "0"))) if "content-length" in headers else b""
                with self.lock:
                    self.requests += 1
                up = http.client.HTTPConnection(self.up_host, self.up_port, timeout=30)
                fwd = {k: v for k, v in headers.items() if k in ("authorization", "content-type", "accept")}
                up.request(method, target, body=body or None, headers=fwd)
                r = up.getresponse()
                data = r.read()
                ctype = r.getheader("Content-Type")
                up.close()
                head = "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n" % (r.status, r.reason, len(data))
                if ctype:
                    head += "Content-Type: %s\r\n" % ctype
                s.sendall(head.encode("latin-1") + b"\r\n" + data)
        except (OSError, ValueError):
            pass
        finally:
            try:
                s.close()
            except OSError:
                pass

    def close(self):
        self.stop = True
        with self.lock:
            socks = list(self.socks)
        for c in socks:
            try:
                c.close()
            except OSError:
                pass
        self.sock.close()


def tls10_handshake_ok(port):
    """Control: a client limited to TLS 1.0 completes a handshake with the
    server on port (so a refusal by pgapi_fdw is its own minimum version)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as s:
            return s.version()
