# The lab client. One line of output per attempt: the server's name, or "FAIL reason".
#   tcp HOST PORT COUNT SRC          COUNT connections, each from a new port
#   udp HOST PORT COUNT SRC SPORT    COUNT datagrams; SPORT 0: a new socket (flow) each,
#                                    else all from SPORT (one flow), 0.2 s apart
#   hold HOST PORT SRC               one connection; prints the greeting, then sends each
#                                    stdin line and prints the answer
#   load HOST PORT SRC STOPFILE      4 threads connect in a loop until STOPFILE exists;
#                                    prints "ok N fail M" and the first failures
import os, socket, sys, threading, time

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
family = socket.AF_INET6 if ":" in host else socket.AF_INET


def bound(kind, src, sport=0):
    s = socket.socket(family, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(3)
    if src != "-":
        s.bind((src, sport))
    return s


def connect_once(src):
    c = bound(socket.SOCK_STREAM, src)
    try:
        c.connect((host, port))
        line = c.makefile().readline().strip()
        return line if line else "FAIL empty"
    except OSError as e:
        return "FAIL %s" % e
    finally:
        c.close()


if mode == "tcp":
    for _ in range(int(sys.argv[4])):
        print(connect_once(sys.argv[5]), flush=True)
elif mode == "udp":
    count, src, sport = int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
    flow = bound(socket.SOCK_DGRAM, src, sport) if sport else None
    for _ in range(count):
        s = flow or bound(socket.SOCK_DGRAM, src)
        try:
            s.sendto(b"hi", (host, port))
            print(s.recvfrom(2048)[0].decode(), flush=True)
        except OSError as e:
            print("FAIL %s" % e, flush=True)
        if flow:
            time.sleep(0.2)
        else:
            s.close()
elif mode == "hold":
    c = bound(socket.SOCK_STREAM, sys.argv[4])
    c.connect((host, port))
    f = c.makefile()
    print(f.readline().strip(), flush=True)
    for line in sys.stdin:
        c.sendall(line.encode())
        print(f.readline().strip() or "FAIL closed", flush=True)
elif mode == "load":
    src, stop = sys.argv[4], sys.argv[5]
    lock = threading.Lock()
    ok, failures = [0], []

    def run():
        while not os.path.exists(stop):
            answer = connect_once(src)
            with lock:
                if answer.startswith("FAIL"):
                    failures.append(answer)
                else:
                    ok[0] += 1

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("ok %d fail %d" % (ok[0], len(failures)))
    for f in failures[:5]:
        print(f)
