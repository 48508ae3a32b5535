// A thread that runs tasks in order (internal to skiff::node): the node's storage and apply
// threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace skiff::node_detail {

class WorkQueue {
 public:
  WorkQueue() = default;
  ~WorkQueue() { stop_and_join(); }
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  /// Starts the thread.
  void start() {
    std::lock_guard lock(mu_);
    if (thread_.joinable() || stopped_) {
      return;
    }
    thread_ = std::thread([this] { run(); });
  }
  /// Queues `task`; false (and `task` dropped) once stop_and_join() was called.
  bool push(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      if (stopped_) {
        return false;
      }
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return true;
  }
  /// Runs every task queued so far, then ends the thread. Tasks pushed meanwhile (by the
  /// tasks themselves) run too; pushes after the thread ended are refused.
  void stop_and_join() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
      thread_.join();
    }
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  /// Whether the caller is this queue's thread.
  bool on_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) {
        stopped_ = true;
        return;
      }
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace skiff::node_detail
