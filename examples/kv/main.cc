// skiff-kv: an etcd-like replicated key-value store on skiff (examples/kv/README.md).
//
//   skiff-kv serve --id N --peers 1=HOST:PORT,... --http HOST:PORT --data-dir DIR [...]
//   skiff-kv [--endpoints HOST:PORT,...] put K V [--lease ID] | get K [--serializable] |
//            del K | list PREFIX | cas K EXPECTED NEW | cas K --absent NEW |
//            watch PREFIX [--from-revision R] [--count N] |
//            lease grant TTL | lease keepalive ID | lease revoke ID |
//            status | health | member list|add|remove|promote
#include <cctype>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "http.h"
#include "kv_service.h"

namespace {

using skiff::examples::ClusterClient;
using skiff::examples::json;

constexpr const char* kUsage =
    "usage: skiff-kv serve --id N --peers 1=HOST:PORT,... --http HOST:PORT --data-dir DIR\n"
    "           [--max-value-bytes 1048576] [--history 10000] (see `skiff-kv serve --help`)\n"
    "       skiff-kv [--endpoints HOST:PORT,...] COMMAND\n"
    "  put KEY VALUE [--lease ID]     get KEY [--serializable]     del KEY\n"
    "  list PREFIX [--limit N]        cas KEY EXPECTED NEW         cas KEY --absent NEW\n"
    "  watch PREFIX [--from-revision R] [--count N]\n"
    "  lease grant TTL_SECONDS | lease keepalive ID | lease revoke ID | lease show ID\n"
    "  status | health | member list | member add ID RAFT_HOST:PORT [--learner] |\n"
    "  member remove ID | member promote ID\n";

// Percent-encodes all but unreserved characters and '/', for paths and query values.
std::string encode(const std::string& text, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', hex[c >> 4], hex[c & 15]};
    }
  }
  return out;
}

// A write's retry identity: every endpoint tried gets the same one, so the write is applied
// at most once.
std::string identity(const std::string& path) {
  const std::string client = "cli-" + skiff::examples::random_client_id();
  return path + (path.find('?') == std::string::npos ? "?" : "&") + "client_id=" + client +
         "&seq=1";
}

json with_identity(json body) {
  body["client_id"] = "cli-" + skiff::examples::random_client_id();
  body["seq"] = 1;
  return body;
}

int watch(ClusterClient& client, const std::string& prefix, std::uint64_t from,
          std::uint64_t count) {
  std::uint64_t seen = 0;
  while (count == 0 || seen < count) {
    std::string path = "/v1/watch?prefix=" + encode(prefix, false) + "&timeout_ms=25000";
    if (from != 0) {
      path += "&from_revision=" + std::to_string(from);
    }
    auto r = client.call("GET", path);
    if (!r.ok() || r->status != 200) {
      return skiff::examples::print_reply(r);
    }
    const json j = r->parsed();
    for (const json& e : j.value("events", json::array())) {
      const json& kv = e["kv"];
      std::cout << e.value("revision", 0) << " " << e.value("type", "") << " "
                << kv.value("key", "");
      if (e.value("type", "") == "PUT") {
        std::cout << " = " << kv.value("value", "");
      }
      std::cout << std::endl;
      if (count != 0 && ++seen >= count) {
        return 0;
      }
    }
    from = j.value("next_revision", from);
  }
  return 0;
}

int client_main(std::vector<std::string> args) {
  auto endpoints = skiff::examples::take_endpoints(args);
  auto lease = skiff::examples::take_flag(args, "--lease");
  auto limit = skiff::examples::take_flag(args, "--limit");
  auto from = skiff::examples::take_flag(args, "--from-revision");
  auto count = skiff::examples::take_flag(args, "--count");
  for (const skiff::Status& s :
       {endpoints.status(), lease.status(), limit.status(), from.status(), count.status()}) {
    if (!s.ok()) {
      std::cerr << s.message() << "\n" << kUsage;
      return 2;
    }
  }
  bool serializable = false;
  bool absent = false;
  std::erase_if(args, [&](const std::string& a) {
    if (a == "--serializable") {
      serializable = true;
    } else if (a == "--absent") {
      absent = true;
    } else {
      return false;
    }
    return true;
  });
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  ClusterClient client(*endpoints);
  const std::string cmd = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (auto rc = skiff::examples::run_common_client(cmd, rest, client)) {
    return *rc;
  }
  using skiff::examples::print_reply;
  const auto n = rest.size();
  if (cmd == "put" && n == 2) {
    std::string path = "/v1/kv/" + encode(rest[0], true);
    if (lease->has_value()) {
      path += "?lease=" + encode(**lease, false);
    }
    return print_reply(client.call("PUT", identity(path), rest[1]));
  }
  if (cmd == "get" && n == 1) {
    return print_reply(client.call("GET", "/v1/kv/" + encode(rest[0], true) +
                                              (serializable ? "?consistency=serializable" : "")));
  }
  if (cmd == "del" && n == 1) {
    return print_reply(client.call("DELETE", identity("/v1/kv/" + encode(rest[0], true))));
  }
  if (cmd == "list" && n <= 1) {
    std::string path = "/v1/kv?prefix=" + encode(n == 1 ? rest[0] : "", false);
    if (limit->has_value()) {
      path += "&limit=" + encode(**limit, false);
    }
    if (serializable) {
      path += "&consistency=serializable";
    }
    auto r = client.call("GET", path);
    if (!r.ok() || r->status != 200) {
      return print_reply(r);
    }
    // One line per key: easier to read than the JSON (curl shows that).
    const json j = r->parsed();
    for (const json& kv : j.value("kvs", json::array())) {
      std::cout << kv.value("key", "") << " = " << kv.value("value", "") << "  (mod_revision "
                << kv.value("mod_revision", 0) << ")\n";
    }
    std::cout << "revision " << j.value("revision", 0) << (j.value("more", false) ? ", more" : "")
              << "\n";
    return 0;
  }
  if (cmd == "cas" && ((n == 3 && !absent) || (n == 2 && absent))) {
    json body = {{"key", rest[0]}, {"value", rest[n - 1]}};
    if (absent) {
      body["expect_mod_revision"] = 0;
    } else {
      body["expect_value"] = rest[1];
    }
    return print_reply(client.call("POST", "/v1/txn", with_identity(body).dump()));
  }
  if (cmd == "watch" && n <= 1) {
    auto number = [](const std::optional<std::string>& v) -> std::uint64_t {
      return v ? std::strtoull(v->c_str(), nullptr, 10) : 0;
    };
    return watch(client, n == 1 ? rest[0] : "", number(*from), number(*count));
  }
  if (cmd == "lease" && n == 2) {
    if (rest[0] == "grant") {
      auto ttl = skiff::examples::parse_number(rest[1], "TTL", 1, 86400);
      if (!ttl.ok()) {
        std::cerr << ttl.status().message() << "\n";
        return 2;
      }
      return print_reply(
          client.call("POST", "/v1/lease", with_identity(json{{"ttl", *ttl}}).dump()));
    }
    const std::string path = "/v1/lease/" + encode(rest[1], false);
    if (rest[0] == "keepalive") {
      return print_reply(client.call("POST", identity(path + "/keepalive"), "{}"));
    }
    if (rest[0] == "revoke") {
      return print_reply(client.call("DELETE", identity(path)));
    }
    if (rest[0] == "show") {
      return print_reply(client.call("GET", path));
    }
  }
  std::cerr << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cerr << kUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "serve") {
    if (args.size() == 2 && (args[1] == "--help" || args[1] == "-h")) {
      std::cerr << skiff::examples::serve_usage("skiff-kv")
                << "       [--max-value-bytes 1048576] [--history 10000 (events kept for "
                   "watches; the same on every member)]\n";
      return 0;
    }
    return skiff::examples::run_serve("skiff-kv", {args.begin() + 1, args.end()},
                                      skiff::examples::kv::kv_serve_flags(),
                                      skiff::examples::kv::make_kv_service);
  }
  return client_main(std::move(args));
}
