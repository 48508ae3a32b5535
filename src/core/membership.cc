#include "core/membership.h"

#include "core/assert.h"
#include "core/str.h"
#include "skiff/conf_change.h"

namespace skiff::detail {

Membership::Membership(Index base_index, ConfState base) {
  items_.push_back(Item{base_index, std::move(base)});
}

const ConfState& Membership::current() const {
  return items_.back().conf;
}

Index Membership::current_index() const {
  return items_.back().index;
}

const ConfState& Membership::at(Index index) const {
  SKIFF_ASSERT(index >= items_.front().index,
               str_cat("membership at ", index, " is before the base ", items_.front().index));
  for (auto it = items_.rbegin(); it != items_.rend(); ++it) {
    if (it->index <= index) {
      return it->conf;
    }
  }
  return items_.front().conf;
}

Status Membership::on_append(Index from, const std::vector<Entry>& ents) {
  // A truncation never reaches the base: the base is committed (snapshot or bootstrap).
  while (items_.size() > 1 && items_.back().index >= from) {
    items_.pop_back();
  }
  for (const Entry& e : ents) {
    if (e.type != EntryType::kConfChange || e.index < from) {
      continue;
    }
    auto decoded = decode_conf_change_entry(e.data.view());
    if (!decoded.ok()) {
      return Status(ErrorCode::kCorruption,
                    str_cat("entry ", skiff::describe(e), ": ", decoded.status().message()));
    }
    if (e.index <= items_.back().index) {
      continue;  // at or before the base: already folded in
    }
    items_.push_back(Item{e.index, std::move(decoded->result)});
  }
  return Status();
}

void Membership::reset(Index base_index, ConfState base) {
  items_.clear();
  items_.push_back(Item{base_index, std::move(base)});
}

void Membership::compact_to(Index index) {
  std::size_t keep = 0;  // the last item at or before index becomes the base
  while (keep + 1 < items_.size() && items_[keep + 1].index <= index) {
    ++keep;
  }
  if (keep > 0) {
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(keep));
  }
}

std::string Membership::describe() const {
  std::string out;
  for (const Item& item : items_) {
    out += str_cat(out.empty() ? "" : ", ", skiff::describe(item.conf), "@", item.index);
  }
  return out;
}

void Membership::check_invariants() const {
  SKIFF_ASSERT(!items_.empty(), "membership history is empty");
  for (std::size_t k = 1; k < items_.size(); ++k) {
    SKIFF_ASSERT(items_[k - 1].index < items_[k].index,
                 str_cat("membership out of order: ", describe()));
  }
}

}  // namespace skiff::detail
