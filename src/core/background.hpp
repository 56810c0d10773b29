// One pure C++ computation on a second thread while the backend's own thread
// goes on with SQL (the identity job builds its links' evidence during its
// other writes). PostgreSQL is single-threaded: the body must not call into
// it (no palloc, no elog, no SPI), only read data nobody writes meanwhile and
// return its result. Every signal is blocked in the thread, so the backend's
// handlers (cancel, timeouts) still run on the backend's thread. get() waits
// and returns the result, or rethrows what the body threw. The destructor
// asks the body to stop (the flag it is given) and waits: an error unwinding
// the backend's stack never leaves the thread running. If no thread can be
// started, get() runs the body itself.
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <optional>
#include <signal.h>
#include <system_error>
#include <thread>
#include <utility>

namespace ct4::core {

template <class T>
class Background {
  public:
    // `body(stop)` computes the result; it may return early once `stop` is set.
    template <class Body>
    explicit Background(Body body) {
        job_ = [this, body = std::move(body)]() mutable {
            try {
                result_.emplace(body(stop_));
            } catch (...) {
                error_ = std::current_exception();
            }
        };
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);  // the new thread inherits this mask
        try {
            thread_ = std::thread([this] { job_(); });
        } catch (const std::system_error &) {
            // no thread: get() runs the body
        } catch (...) {
            pthread_sigmask(SIG_SETMASK, &old, nullptr);
            throw;
        }
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    Background(const Background &) = delete;
    Background &operator=(const Background &) = delete;
    ~Background() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }

    // Call once.
    T get() {
        if (thread_.joinable())
            thread_.join();
        else
            job_();
        if (error_) std::rethrow_exception(error_);
        return std::move(*result_);
    }
    // Whether the body runs on a thread of its own.
    bool threaded() const { return thread_.joinable(); }

  private:
    std::atomic<bool> stop_{false};
    std::optional<T> result_;
    std::exception_ptr error_;
    std::function<void()> job_;
    std::thread thread_;
};

}  // namespace ct4::core
