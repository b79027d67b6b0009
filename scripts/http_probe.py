"""One HTTP/1.0 GET on a NEW TCP connection, classified: the request both
load-balancer benches count (lb_kill_client.py, rollout_bench.py)."""
import socket

REQUEST = b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n"


def request(host, port, timeout):
    """'ok', or why not: connect-*/refused, read-*/reset, bad-status, short-body."""
    try:
        s = socket.create_connection((host, port), timeout=timeout)
    except socket.timeout:
        return "connect-timeout"
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return f"connect-{e.__class__.__name__}"
    try:
        s.sendall(REQUEST)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    except socket.timeout:
        return "read-timeout"
    except ConnectionResetError:
        return "reset"
    except OSError as e:
        return f"read-{e.__class__.__name__}"
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.split(b"\r\n")[0].endswith(b" 200 OK"):
        return "bad-status"
    length = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    if length and int(length[0].split(b":")[1]) != len(body):
        return "short-body"
    return "ok"
