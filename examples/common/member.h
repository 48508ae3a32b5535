// A member of an example service (internal to the examples): the node runtime with LMDB or
// WAL storage (--storage) under --data-dir and the TCP transport on this node's --peers
// address, built from the serve flags (flags.h).
#pragma once

#include <memory>

#include "flags.h"
#include "skiff/logger.h"
#include "skiff/node/node.h"
#include "skiff/node/state_machine.h"
#include "skiff/storage.h"
#include "skiff/transport/asio_transport.h"

namespace skiff::examples {

/// A logger writing lines at `min` and above to stderr with a time stamp (thread-safe).
std::shared_ptr<Logger> stderr_logger(LogLevel min);

class Member {
 public:
  /// Opens the storage (founding the cluster of --peers on first start, or waiting to be
  /// added with --join), binds the transport and starts the node. Errors name what failed; a
  /// data directory written by the other adapter is refused, never started afresh.
  /// Logs to stderr at --log-level unless `logger` is given.
  static Result<std::unique_ptr<Member>> start(const ServeFlags& flags, StateMachine& sm,
                                               std::shared_ptr<Logger> logger = nullptr);
  ~Member();
  Member(const Member&) = delete;
  Member& operator=(const Member&) = delete;

  Node& node() { return *node_; }
  /// Stops the node (gracefully); idempotent.
  void stop();

 private:
  Member() = default;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<AsioTransport> transport_;
  std::unique_ptr<Node> node_;
};

}  // namespace skiff::examples
