#include "core/background.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <stdexcept>
#include <string>
#include <vector>

using ct4::core::Background;

TEST(Background, ReturnsTheResultOfItsBody) {
    std::vector<int> in{1, 2, 3, 4};
    Background<long> b([&](const std::atomic<bool> &) {
        long s = 0;
        for (int v : in) s += v;
        return s;
    });
    EXPECT_EQ(b.get(), 10);
}

TEST(Background, RethrowsWhatTheBodyThrew) {
    Background<int> b(
        [](const std::atomic<bool> &) -> int { throw std::runtime_error("bad row"); });
    EXPECT_THROW(
        {
            try {
                b.get();
            } catch (const std::runtime_error &e) {
                EXPECT_STREQ(e.what(), "bad row");
                throw;
            }
        },
        std::runtime_error);
}

TEST(Background, BlocksEverySignalInItsThread) {
    Background<std::vector<int>> b([](const std::atomic<bool> &) {
        sigset_t cur;
        pthread_sigmask(SIG_BLOCK, nullptr, &cur);
        std::vector<int> blocked;
        for (int s : {SIGINT, SIGTERM, SIGALRM, SIGUSR1, SIGUSR2, SIGQUIT})
            if (sigismember(&cur, s)) blocked.push_back(s);
        return blocked;
    });
    EXPECT_TRUE(b.threaded());
    EXPECT_EQ(b.get().size(), 6u);
    // The calling thread's mask is as it was.
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, nullptr, &cur);
    EXPECT_FALSE(sigismember(&cur, SIGINT));
}

TEST(Background, DestructorStopsAndWaitsWithoutGet) {
    std::atomic<bool> saw_stop{false};
    {
        Background<int> b([&](const std::atomic<bool> &stop) {
            while (!stop) std::this_thread::yield();
            saw_stop = true;
            return 0;
        });
    }  // as when an error unwinds the caller: no get()
    EXPECT_TRUE(saw_stop);
}
