// The command envelope (envelope.h).
#include "envelope.h"

#include <chrono>
#include <random>

#include "varint.h"

namespace skiff::node_detail {
namespace {

constexpr char kVersion1 = 1;
constexpr char kVersion3 = 3;  // 2 is the member record's (registry.h)

// splitmix64's finalizer (Steele, Lea, Flood 2014): spreads every input bit over the output.
std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::uint64_t new_process_id() {
  // std::random_device reads the kernel's random source on Linux (getrandom); the clocks are
  // mixed in so that even a deterministic random_device cannot repeat an id across restarts.
  std::random_device rd;
  const auto wall =
      static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  const auto mono =
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  std::uint64_t id = 0;
  while (id == 0) {
    const std::uint64_t r = (std::uint64_t{rd()} << 32) | rd();
    id = r ^ mix(wall ^ mix(mono));
  }
  return id;
}

Bytes wrap(NodeId origin, RequestId request, std::string_view command) {
  std::string out;
  out.reserve(1 + 10 + 8 + 10 + command.size());
  out.push_back(kVersion3);
  put_varint(out, origin.value);
  put_u64(out, request.process);
  put_varint(out, request.number);
  out.append(command);
  return Bytes(std::move(out));
}

Result<Envelope> unwrap(std::string_view data) {
  if (data.empty() || (data.front() != kVersion1 && data.front() != kVersion3)) {
    return Status(ErrorCode::kCorruption, "command envelope: unknown version");
  }
  const bool v3 = data.front() == kVersion3;
  data.remove_prefix(1);
  Envelope e;
  std::uint64_t origin = 0;
  bool ok = get_varint(data, origin) && origin != 0;
  if (ok && v3) {
    ok = get_u64(data, e.request.process) && e.request.process != 0;
  }
  ok = ok && get_varint(data, e.request.number);
  if (!ok) {
    return Status(ErrorCode::kCorruption, "command envelope: bad header");
  }
  e.origin = NodeId{origin};
  e.command = data;
  return e;
}

Bytes read_context(RequestId request) {
  std::string s;
  s.reserve(16);
  put_u64(s, request.process);
  put_u64(s, request.number);
  return Bytes(std::move(s));
}

std::optional<RequestId> read_context_request(std::string_view context) {
  RequestId r;
  if (context.size() != 16 || !get_u64(context, r.process) || !get_u64(context, r.number) ||
      r.process == 0) {
    return std::nullopt;
  }
  return r;
}

}  // namespace skiff::node_detail
