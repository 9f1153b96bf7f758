# A lab application server: answers every TCP connection and UDP datagram with its name.
# TCP connections stay open and echo "NAME:line" for each line, for long-lived flows.
import socket, sys, threading

name, proto, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
six = len(sys.argv) > 4 and sys.argv[4] == "6"
family = socket.AF_INET6 if six else socket.AF_INET
bind = "::" if six else "0.0.0.0"
if proto == "udp":
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((bind, port))
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(name.encode(), peer)
else:
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind, port))
    s.listen(1024)

    def serve(c):
        try:
            c.sendall((name + "\n").encode())
            f = c.makefile("rb")
            for line in f:
                c.sendall((name + ":" + line.decode()).encode())
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
