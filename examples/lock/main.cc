// skiff-lock: a lock service with fencing tokens on skiff (examples/lock/README.md).
//
//   skiff-lock serve --id N --peers 1=H:P,2=H:P,3=H:P --http H:P --data-dir DIR [...]
//   skiff-lock acquire NAME --owner O [--ttl S] [--wait S]     skiff-lock keepalive NAME --owner O
//   skiff-lock release NAME --owner O      skiff-lock status NAME [--serializable]
//   skiff-lock write RESOURCE --token T [--data TEXT]       skiff-lock read RESOURCE
//   skiff-lock status | health | member ...        (every client takes --endpoints H:P,H:P,...)
#include <iostream>
#include <string>
#include <vector>

#include "http.h"
#include "lock_service.h"

namespace {

using skiff::examples::ClusterClient;
using skiff::examples::json;

constexpr const char* kUsage =
    "usage:\n"
    "  skiff-lock serve --id N --peers 1=HOST:PORT,... --http HOST:PORT --data-dir DIR [...]\n"
    "  skiff-lock acquire NAME --owner OWNER [--ttl SECONDS] [--wait SECONDS]\n"
    "  skiff-lock keepalive NAME --owner OWNER\n"
    "  skiff-lock release NAME --owner OWNER\n"
    "  skiff-lock status NAME [--serializable]\n"
    "  skiff-lock write RESOURCE --token TOKEN [--data TEXT]\n"
    "  skiff-lock read RESOURCE [--serializable]\n"
    "  skiff-lock status | health | member list|add|remove|promote ...\n"
    "clients take --endpoints HOST:PORT,... (default 127.0.0.1:8101,127.0.0.1:8102,"
    "127.0.0.1:8103)\n";

int usage_error(const std::string& message) {
  std::cerr << "skiff-lock: " << message << "\n" << kUsage;
  return 2;
}

// Percent-encodes a name for a URL path segment.
std::string path_segment(const std::string& name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A fresh request id, so a retry of this invocation (another endpoint after a 503) is not
// applied twice.
std::string request_id() {
  return skiff::examples::random_client_id();
}

// The lock and resource subcommands; `args` hold the flags left after --endpoints.
int run_lock_client(const std::string& command, std::vector<std::string> args,
                    const std::vector<std::string>& endpoints) {
  std::vector<std::string> values;
  std::map<std::string, std::string> flags;
  bool serializable = false;
  for (const char* name : {"--owner", "--ttl", "--wait", "--token", "--data"}) {
    auto v = skiff::examples::take_flag(args, name);
    if (!v.ok()) {
      return usage_error(v.status().message());
    }
    if (*v) {
      flags[name] = **v;
    }
  }
  for (const std::string& a : args) {
    if (a == "--serializable") {
      serializable = true;
    } else if (a.starts_with("--")) {
      return usage_error("unknown flag " + a);
    } else {
      values.push_back(a);
    }
  }
  if (values.size() != 1) {
    return usage_error(command + " takes one name");
  }
  auto number = [&flags](const char* name, std::uint64_t fallback) -> std::optional<std::uint64_t> {
    if (!flags.contains(name)) {
      return fallback;
    }
    auto n = skiff::examples::parse_number(flags[name], name, 0, UINT64_MAX);
    return n.ok() ? std::optional(*n) : std::nullopt;
  };
  const std::string path = path_segment(values[0]);
  const std::string read_suffix = serializable ? "?consistency=serializable" : "";
  if (command == "status" || command == "read") {
    ClusterClient client(endpoints);
    return skiff::examples::print_reply(client.call(
        "GET", (command == "status" ? "/v1/lock/" : "/v1/resource/") + path + read_suffix));
  }
  if (command == "write") {
    const auto token = number("--token", 0);
    if (!token || *token == 0) {
      return usage_error("write needs --token N (a fencing token)");
    }
    ClusterClient client(endpoints);
    json body = {{"token", *token}, {"data", flags["--data"]}};
    return skiff::examples::print_reply(client.call("POST", "/v1/resource/" + path, body.dump()));
  }
  if (!flags.contains("--owner")) {
    return usage_error(command + " needs --owner OWNER");
  }
  json body = {{"owner", flags["--owner"]}};
  auto wait = std::chrono::seconds(0);
  if (command == "acquire") {
    const auto ttl = number("--ttl", 10);
    const auto wait_s = number("--wait", 0);
    if (!ttl || !wait_s) {
      return usage_error("--ttl and --wait take whole seconds");
    }
    body["ttl"] = *ttl;
    body["wait"] = *wait_s;
    wait = std::chrono::seconds(*wait_s);
  }
  if (command != "keepalive") {
    body["request_id"] = request_id();
  }
  // Long enough for a queued acquire's wait, and for a leader change on the way.
  ClusterClient client(endpoints, wait + std::chrono::seconds(15));
  return skiff::examples::print_reply(
      client.call("POST", "/v1/lock/" + path + "/" + command, body.dump()));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "serve") {
    args.erase(args.begin());
    return skiff::examples::run_serve(
        "skiff-lock", args, {}, [](const skiff::examples::ServeFlags& flags, std::string*) {
          return std::make_unique<skiff::examples::lock::LockService>(flags.request_timeout);
        });
  }
  // Clients: --endpoints may come before or after the subcommand.
  auto endpoints = skiff::examples::take_endpoints(args);
  if (!endpoints.ok()) {
    return usage_error(endpoints.status().message());
  }
  if (args.empty()) {
    return usage_error("no command");
  }
  const std::string command = args[0];
  args.erase(args.begin());
  const bool lock_command = command == "acquire" || command == "keepalive" ||
                            command == "release" || command == "write" || command == "read" ||
                            (command == "status" && !args.empty());
  if (lock_command) {
    return run_lock_client(command, args, *endpoints);
  }
  ClusterClient client(*endpoints);
  if (auto code = skiff::examples::run_common_client(command, args, client)) {
    return *code;
  }
  return usage_error("unknown command \"" + command + "\"");
}
