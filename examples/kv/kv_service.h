// skiff-kv's member side: the HTTP API over the replicated KvStore, and the leader's lease
// expiry. Routes (all JSON; errors {"error","code"}):
//   PUT    /v1/kv/{key}[?lease=ID&client_id=C&seq=N]   body: the value   -> {"revision"}
//   GET    /v1/kv/{key}[?consistency=serializable]     -> the key, or 404
//   DELETE /v1/kv/{key}[?client_id=C&seq=N]             -> {"deleted", "revision"}
//   GET    /v1/kv?prefix=P[&limit=N&consistency=...]    -> {"kvs": [...], "more", "revision"}
//   POST   /v1/txn {"key", "expect_value" | "expect_mod_revision", "value"} -> {"succeeded"}
//   POST   /v1/lease {"ttl"} -> {"id", "ttl"};  POST /v1/lease/{id}/keepalive;
//   DELETE /v1/lease/{id};  GET /v1/lease/{id}
//   GET    /v1/watch?prefix=P&from_revision=R[&timeout_ms=T&limit=N] (long poll)
//       -> {"events": [...], "next_revision"}; 410 when R was compacted
#pragma once

#include <memory>
#include <set>
#include <string>

#include "http.h"

namespace skiff::examples::kv {

/// The service's own serve flags.
const std::set<std::string>& kv_serve_flags();
/// Builds the service from the serve flags; nullptr with `error` set when a flag is bad.
std::unique_ptr<Service> make_kv_service(const ServeFlags& flags, std::string* error);

}  // namespace skiff::examples::kv
