// The built-in key-value register workload (see kv_model() for the command format).
#include <map>
#include <string>
#include <vector>

#include "skiff/testing/workload.h"

namespace skiff::testing {
namespace {

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    const std::size_t end = s.find(' ', pos);
    out.emplace_back(s.substr(pos, end == std::string_view::npos ? s.size() - pos : end - pos));
    pos = end == std::string_view::npos ? s.size() : end + 1;
  }
  return out;
}

class KvStateMachine final : public StateMachine {
 public:
  std::string apply(std::string_view command) override {
    const std::vector<std::string> w = words(command);
    if (w.size() == 3 && w[0] == "put") {
      values_[w[1]] = w[2];
      return "ok";
    }
    if (w.size() == 2 && w[0] == "get") {
      auto it = values_.find(w[1]);
      return it == values_.end() ? "<nil>" : it->second;
    }
    if (w.size() == 4 && w[0] == "cas") {
      auto it = values_.find(w[1]);
      const std::string current = it == values_.end() ? "<nil>" : it->second;
      if (current != w[2]) {
        return "fail";
      }
      values_[w[1]] = w[3];
      return "ok";
    }
    return "error: bad command";
  }

  std::string fingerprint() const override { return snapshot(); }

  // "k=v;" per key, in key order; keys and values never contain '=' or ';'.
  std::string snapshot() const override {
    std::string out;
    for (const auto& [k, v] : values_) {
      out += k + "=" + v + ";";
    }
    return out;
  }

  void restore(std::string_view snapshot) override {
    values_.clear();
    std::size_t pos = 0;
    while (pos < snapshot.size()) {
      const std::size_t eq = snapshot.find('=', pos);
      const std::size_t end = snapshot.find(';', pos);
      if (eq == std::string_view::npos || end == std::string_view::npos || eq > end) {
        break;  // a malformed snapshot restores what it could; fingerprints then disagree
      }
      values_[std::string(snapshot.substr(pos, eq - pos))] =
          std::string(snapshot.substr(eq + 1, end - eq - 1));
      pos = end + 1;
    }
  }

  std::string read(std::string_view command) const override {
    const std::vector<std::string> w = words(command);
    if (w.size() == 2 && w[0] == "get") {
      auto it = values_.find(w[1]);
      return it == values_.end() ? "<nil>" : it->second;
    }
    return "error: not a read";
  }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace

std::unique_ptr<StateMachine> KvWorkload::new_state_machine() const {
  return std::make_unique<KvStateMachine>();
}

bool KvWorkload::is_read(std::string_view command) const {
  return command.substr(0, 4) == "get ";
}

std::string KvWorkload::next_command(Chooser& chooser, std::uint64_t client,
                                     std::uint64_t seq) const {
  const std::string key = "k" + std::to_string(chooser.choose(keys_));
  const std::string value = std::to_string(client) + "." + std::to_string(seq);
  switch (chooser.choose(10)) {
    case 0:
    case 1:
    case 2:
    case 3:
      return "put " + key + " " + value;
    case 4:
    case 5:
    case 6:
      return "get " + key;
    default: {
      // Compare-and-set against a value some client may have written, or against absence.
      const std::uint64_t other = chooser.choose(4);
      const std::string expected =
          other == 0 ? "<nil>"
                     : std::to_string(chooser.choose(8)) + "." + std::to_string(chooser.choose(8));
      return "cas " + key + " " + expected + " " + value;
    }
  }
}

}  // namespace skiff::testing
