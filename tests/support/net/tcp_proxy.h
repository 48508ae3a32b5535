// A fault-injecting TCP proxy on loopback, for tests of a TCP transport: it listens on
// 127.0.0.1 and forwards each connection to one target, and a test can delay, cut, refuse or
// stall the traffic while the transport runs.
//
//   TcpProxy proxy("127.0.0.1:7001");          // the real peer
//   dial(proxy.address());                     // the transport under test dials the proxy
//   proxy.drop_after(10);                      // cut the next frame after 10 bytes
//
// Every control takes effect on live and future connections and, except set_delay, is done
// when it returns: the proxy's io thread has applied it. All socket work runs on that thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace skiff::test {

class TcpProxy {
 public:
  // Listens on 127.0.0.1 on a free port; `target_host_port` is "host:port" (host may be a
  // name, resolved once here). Throws std::system_error if it cannot resolve or listen.
  explicit TcpProxy(std::string target_host_port);
  // Same as stop().
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Where clients connect: "127.0.0.1:PORT".
  std::string address() const;

  // Holds each chunk read afterwards, in both directions, this long before writing it on;
  // order is kept, so it adds latency without reordering (0 turns it off).
  void set_delay(std::chrono::milliseconds delay);
  // After `bytes` more bytes read from clients (over all connections) have been forwarded,
  // resets every current connection on both sides; bytes past the budget are never
  // forwarded. One-shot: later connections are unaffected. 0 resets at once.
  void drop_after(std::size_t bytes);
  // Resets every current connection on both sides now.
  void cut_all();
  // While on, new connections are accepted and reset at once, before reaching the target.
  void set_refuse(bool refuse);
  // While on, the proxy reads nothing from clients: their bytes wait in kernel buffers until
  // those fill and the client's writes stall, as with a peer that never reads. Turning it
  // off resumes forwarding where it stopped.
  void set_blackhole(bool blackhole);

  // Connections accepted so far, refused ones included.
  std::size_t connections() const;
  // Bytes written to the target, from all clients so far.
  std::size_t bytes_forwarded() const;

  // Closes the listener and resets every connection, then joins the io thread. Idempotent;
  // controls called afterwards do nothing.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skiff::test
