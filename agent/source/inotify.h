// Inotify: one inotify instance on an io_context. It opens the descriptor, adds and removes
// watches, waits for the descriptor to become readable and reads the queued events; what the
// events mean (and what an overflow or a refused watch costs) is its owner's business.
//
// Runs on the thread of its io_context (the tail thread for TailManager's two instances and
// DirWatcher's); not thread-safe. Owned by the object that watches (TailManager, DirWatcher);
// its descriptor is closed when it is destroyed, and a wait still pending then completes with
// operation_aborted.
#pragma once

#include <sys/inotify.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace sluice {

class Inotify {
 public:
  explicit Inotify(boost::asio::io_context* io) : io_(io) {}
  ~Inotify();
  Inotify(const Inotify&) = delete;
  Inotify& operator=(const Inotify&) = delete;

  // Creates the instance (non-blocking, close-on-exec) and registers it with the io_context.
  // False (errno set, from inotify_init1) when the kernel refuses one (EMFILE: the per-user
  // instance limit).
  bool Open();
  bool is_open() const { return fd_ >= 0; }

  // inotify_add_watch: the watch descriptor, or -1 with errno set (ENOSPC: the per-user watch
  // limit; ENOENT, ENOTDIR: nothing there to watch).
  int AddWatch(const char* path, uint32_t mask);
  void RemoveWatch(int wd);

  // Calls `ready` once, when events are queued (or with an error: operation_aborted when
  // cancelled or closed). Registers the descriptor with the reactor again if Detach() took it
  // out; false if that failed (*error says why).
  bool WaitReadable(std::function<void(const boost::system::error_code&)> ready,
                    boost::system::error_code* error = nullptr);
  // Takes the descriptor out of the reactor (epoll) until the next WaitReadable, without closing
  // it: epoll reports every new inotify event as a new edge, so a registered descriptor would
  // wake the thread once per event even with no wait pending.
  void Detach();
  // Cancels a pending wait (it completes with operation_aborted).
  void Cancel();

  // Reads the queue until it is empty, calling fn(event, name) for each event (name empty for
  // events about the watched object itself).
  template <typename Fn>
  void ReadEvents(Fn&& fn) {
    alignas(inotify_event) char buf[64 * 1024];
    for (;;) {
      ssize_t n = Read(buf, sizeof(buf));
      if (n <= 0) break;
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<inotify_event*>(p);
        fn(*ev, ev->len ? std::string_view(ev->name) : std::string_view());
        p += sizeof(inotify_event) + ev->len;
      }
    }
  }

 private:
  ssize_t Read(char* buf, size_t size);

  boost::asio::io_context* io_;
  int fd_ = -1;
  std::unique_ptr<boost::asio::posix::stream_descriptor> stream_;  // holds fd_ while attached
};

}  // namespace sluice
