#include "agent/source/inotify.h"

#include <unistd.h>

#include <utility>

namespace sluice {

Inotify::~Inotify() {
  boost::system::error_code ec;
  if (stream_ && stream_->is_open()) {
    stream_->close(ec);  // closes fd_
  } else if (fd_ >= 0) {
    ::close(fd_);
  }
}

bool Inotify::Open() {
  if (fd_ >= 0) return true;
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) return false;
  stream_ = std::make_unique<boost::asio::posix::stream_descriptor>(*io_, fd_);
  return true;
}

int Inotify::AddWatch(const char* path, uint32_t mask) {
  return inotify_add_watch(fd_, path, mask);
}

void Inotify::RemoveWatch(int wd) { inotify_rm_watch(fd_, wd); }

bool Inotify::WaitReadable(std::function<void(const boost::system::error_code&)> ready,
                           boost::system::error_code* error) {
  if (!stream_->is_open()) {
    boost::system::error_code ec;
    stream_->assign(fd_, ec);
    if (ec) {
      if (error != nullptr) *error = ec;
      return false;
    }
  }
  stream_->async_wait(boost::asio::posix::stream_descriptor::wait_read, std::move(ready));
  return true;
}

void Inotify::Detach() {
  if (stream_ && stream_->is_open()) stream_->release();
}

void Inotify::Cancel() {
  boost::system::error_code ec;
  if (stream_ && stream_->is_open()) stream_->cancel(ec);
}

ssize_t Inotify::Read(char* buf, size_t size) { return ::read(fd_, buf, size); }

}  // namespace sluice
