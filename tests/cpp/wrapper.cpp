// Exercises include/kino.hpp, the C++ wrapper (tests/cpp_wrapper.rs builds
// it with -std=c++17 -Wall -Wextra -Wpedantic -Werror and runs it).
//
//   ./wrapper BEACON_URL
//
// One session to the collector at BEACON_URL, one to a batch callback,
// refused calls that must throw kino::Error with the right status, moves,
// and the stand-alone QoE calculator. Prints what it checked; the last
// line is "wrapper: ok" on success, and the exit status is 0.

#include "kino.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

static_assert(!std::is_copy_constructible_v<kino::Emitter>, "Emitter is move-only");
static_assert(!std::is_copy_assignable_v<kino::Emitter>, "Emitter is move-only");
static_assert(std::is_nothrow_move_constructible_v<kino::Emitter>, "Emitter moves");
static_assert(std::is_nothrow_move_assignable_v<kino::Emitter>, "Emitter moves");
static_assert(!std::is_copy_constructible_v<kino::Config>, "Config is move-only");
static_assert(std::is_nothrow_move_constructible_v<kino::Config>, "Config moves");
static_assert(std::is_base_of_v<std::runtime_error, kino::Error>, "Error is a runtime_error");
static_assert(std::is_nothrow_copy_constructible_v<kino::Error>, "Error copies without throwing");

#define EXPECT(cond)                                                                   \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            std::fprintf(stderr, "wrapper: %s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
            return 1;                                                                  \
        }                                                                              \
    } while (0)

// Runs `f`, which must throw kino::Error with `want`; prints the error.
template <class F> static bool throws(const char *what, kino::Status want, F &&f) {
    try {
        f();
    } catch (const kino::Error &e) {
        const std::string prefix = std::string(kino::status_str(want)) + ": ";
        const bool ok = e.status() == want && !e.message().empty() &&
                        std::string(e.what()).rfind(prefix, 0) == 0;
        std::printf("throws: %s -> %s\n", what, e.what());
        if (!ok) {
            std::fprintf(stderr, "wrapper: %s threw %s, wanted %s\n", what,
                         kino::status_str(e.status()), kino::status_str(want));
        }
        return ok;
    } catch (...) {
        std::fprintf(stderr, "wrapper: %s threw something other than kino::Error\n", what);
        return false;
    }
    std::fprintf(stderr, "wrapper: %s did not throw\n", what);
    return false;
}

static int collector_session(const char *url) {
    kino::Emitter em{kino::Config{}
                         .beacon_url(url)
                         .batch_size(50)
                         .flush_interval_ms(60000)
                         .header("X-Wrapper", "kino.hpp")};
    const std::string session = em.session_id();
    EXPECT(session.size() == 36);
    std::printf("session: %s\n", session.c_str());

    const kino::Resolution sd{640, 360};
    const kino::Resolution hd{1280, 720};
    EXPECT(em.load("https://cdn.example/wrapper/master.m3u8?token=secret"));
    EXPECT(em.state_change(kino::PlayerState::Idle, kino::PlayerState::Loading, 0.0));
    EXPECT(em.quality_change(0, 800000, std::nullopt, sd, kino::QualityChangeReason::Initial));
    EXPECT(em.play(0.0));
    EXPECT(em.quality_change(800000, 2500000, sd, hd, kino::QualityChangeReason::Abr));
    EXPECT(em.heartbeat(1.0, 5.0, 2500000, 0, 25));
    EXPECT(em.rebuffer(1.5, 0.0));
    EXPECT(em.rebuffer_end(1.5));
    EXPECT(em.seek(2.0, 4.0));
    EXPECT(em.play(4.0));
    EXPECT(em.pause(4.5));
    EXPECT(em.play(4.5));
    EXPECT(em.error("SEGMENT_404", "retried", false, 5.0));
    EXPECT(em.custom("cpp_event", R"({"k":1})"));
    EXPECT(em.custom("cpp_null"));

    // Refused calls throw, with the status and kino's message; nothing is queued.
    EXPECT(throws("play(NaN)", KINO_STATUS_INVALID_ARGUMENT,
                  [&] { em.play(std::numeric_limits<double>::quiet_NaN()); }));
    EXPECT(throws("rebuffer(-1)", KINO_STATUS_INVALID_ARGUMENT, [&] { em.rebuffer(-1.0, 0.0); }));
    EXPECT(throws("state_change(99)", KINO_STATUS_INVALID_ARGUMENT, [&] {
        em.state_change(static_cast<kino::PlayerState>(99), kino::PlayerState::Playing, 0.0);
    }));
    EXPECT(throws("custom(bad json)", KINO_STATUS_INVALID_ARGUMENT,
                  [&] { em.custom("bad", "{not json"); }));
    EXPECT(throws("load(NUL inside)", KINO_STATUS_INVALID_ARGUMENT,
                  [&] { em.load(std::string("https://a.example/\0b", 20)); }));
    EXPECT(throws("export_p1203(fps 0)", KINO_STATUS_INVALID_ARGUMENT,
                  [&] { (void)em.export_p1203(0.0); }));

    const std::string p1203 = em.export_p1203(25.0);
    EXPECT(!p1203.empty() && p1203.front() == '{' && p1203.back() == '}');

    // Moving hands the emitter over; the moved-from one refuses calls.
    kino::Emitter moved = std::move(em);
    EXPECT(!em && moved);
    EXPECT(throws("moved-from play", KINO_STATUS_NULL_ARGUMENT, [&] { em.play(1.0); }));
    EXPECT(throws("moved-from stats", KINO_STATUS_NULL_ARGUMENT, [&] { (void)em.stats(); }));
    EXPECT(moved.session_id() == session);

    EXPECT(moved.state_change(kino::PlayerState::Playing, kino::PlayerState::Ended, 6.0));
    EXPECT(moved.end(6.0, 6.0));
    EXPECT(moved.flush(std::chrono::seconds(10)));
    const kino::Stats stats = moved.stats();
    const kino::QoeBreakdown qoe = moved.qoe();
    std::printf("stats: emitted=%llu delivered=%llu failed=%llu dropped=%llu queued=%llu\n",
                static_cast<unsigned long long>(stats.emitted),
                static_cast<unsigned long long>(stats.delivered),
                static_cast<unsigned long long>(stats.failed),
                static_cast<unsigned long long>(stats.dropped),
                static_cast<unsigned long long>(stats.queued));
    std::printf("qoe: started=%d switches=%u rebuffers=%u seeks=%u errors=%u\n", qoe.started ? 1 : 0,
                qoe.quality_switches, qoe.rebuffer_count, qoe.seek_count, qoe.error_count);
    EXPECT(stats.delivered == stats.emitted && stats.failed == 0 && stats.queued == 0);
    EXPECT(qoe.started && qoe.quality_switches == 1 && qoe.seek_count == 1);
    return 0;
}

static int callback_sessions() {
    std::mutex mutex;
    std::vector<std::string> batches;
    {
        kino::Config config;
        config.no_beacon_url().batch_size(3).batch_callback([&](std::string_view json) {
            std::lock_guard<std::mutex> lock(mutex);
            batches.emplace_back(json);
            return true;
        });
        kino::Emitter first{config};
        kino::Emitter second{config}; // shares the callback
        config = kino::Config{};      // the emitters keep the callback alive
        EXPECT(first.load("https://cdn.example/a.m3u8"));
        EXPECT(first.play(0.0));
        EXPECT(second.load("https://cdn.example/b.m3u8"));
        EXPECT(first.end(1.0, 1.0));
        EXPECT(second.end(0.0, 0.0));
        EXPECT(first.flush());
        EXPECT(second.flush());
        const kino::Stats a = first.stats();
        const kino::Stats b = second.stats();
        EXPECT(a.delivered == a.emitted && a.failed == 0);
        EXPECT(b.delivered == b.emitted && b.failed == 0);
    } // both emitters freed here: kino never calls the callback again
    EXPECT(!batches.empty());
    for (const std::string &json : batches) {
        EXPECT(json.front() == '[' && json.back() == ']');
    }
    std::printf("callback: %zu batches\n", batches.size());

    // A callback that throws: the exception stays in the wrapper and the
    // batch counts as not delivered (whether kino retries it is its own
    // business: only "never delivered" is checked).
    kino::Emitter failing{kino::Config{}.no_beacon_url().shutdown_timeout_ms(500).batch_callback(
        [](std::string_view) -> bool { throw std::runtime_error("collector down"); })};
    EXPECT(failing.load("https://cdn.example/c.m3u8"));
    EXPECT(failing.end(0.0, 0.0));
    const bool flushed = failing.flush(std::chrono::seconds(2));
    const kino::Stats f = failing.stats();
    std::printf("throwing callback: flushed=%d delivered=%llu emitted=%llu\n", flushed ? 1 : 0,
                static_cast<unsigned long long>(f.delivered),
                static_cast<unsigned long long>(f.emitted));
    EXPECT(f.delivered == 0 && f.emitted > 0);
    return 0;
}

// Issue 9's calls and the delivery-error text through the wrapper: metadata
// at both levels, sampling, pending records, clear, consent, CMCD.
static int context_calls() {
    std::mutex mutex;
    std::vector<std::string> batches;
    kino::Emitter em{kino::Config{}
                         .no_beacon_url()
                         .metadata("app_name", std::string("wrapper-app"))
                         .sample_rate(1.0)
                         .server_error_limit(3, 60)
                         .batch_size(1000)
                         .flush_interval_ms(60000)
                         .batch_callback([&](std::string_view json) {
                             std::lock_guard<std::mutex> lock(mutex);
                             batches.emplace_back(json);
                             return true;
                         })};
    EXPECT(em.sampled());
    em.set_view_metadata("video_id", std::string("cpp-42"));
    em.set_metadata("viewer_id", std::string("viewer-1"));
    EXPECT(em.load("https://cdn.example/ctx.m3u8"));
    EXPECT(em.play(0.0));
    const std::string pending = em.pending_events();
    std::printf("pending: %zu bytes\n", pending.size());
    EXPECT(pending.front() == '[' && pending.find("\"video_id\":\"cpp-42\"") != std::string::npos);
    const std::string query = em.cmcd(kino::CmcdForm::Query);
    const std::string headers = em.cmcd(kino::CmcdForm::Headers);
    std::printf("cmcd: %s\n", query.c_str());
    EXPECT(query.rfind("CMCD=", 0) == 0 && query.find("cpp-42") != std::string::npos);
    EXPECT(headers.find("CMCD-Session:") != std::string::npos);
    em.clear();
    EXPECT(em.stats().discarded >= 2);
    em.set_consent(false);
    EXPECT(em.play(1.0)); // validated and accepted as usual, not collected
    EXPECT(em.stats().suppressed >= 1);
    em.set_consent(true);
    EXPECT(throws("set_metadata(bad key)", KINO_STATUS_INVALID_ARGUMENT,
                  [&] { em.set_metadata("Bad Key", std::string("x")); }));
    EXPECT(em.last_delivery_error().empty());
    EXPECT(em.end(2.0, 1.0));
    EXPECT(em.flush());
    const kino::Stats s = em.stats();
    EXPECT(s.emitted == s.delivered + s.failed + s.queued);
    return 0;
}

static int config_and_qoe() {
    EXPECT(throws("batch_size(0)", KINO_STATUS_INVALID_ARGUMENT,
                  [] { kino::Config{}.batch_size(0); }));
    EXPECT(throws("beacon_url(ftp)", KINO_STATUS_INVALID_ARGUMENT,
                  [] { kino::Config{}.beacon_url("ftp://collector.example/"); }));
    EXPECT(throws("header(Content-Type)", KINO_STATUS_INVALID_ARGUMENT,
                  [] { kino::Config{}.header("Content-Type", "text/plain"); }));
    EXPECT(throws("retry_backoff_ms(10, 5)", KINO_STATUS_INVALID_ARGUMENT,
                  [] { kino::Config{}.retry_backoff_ms(10, 5); }));
    EXPECT(throws("spool_dir(\"\")", KINO_STATUS_INVALID_ARGUMENT,
                  [] { kino::Config{}.spool_dir(""); }));
    // An empty view has a NULL data(): refused, not taken for "clear".
    EXPECT(throws("ca_pem({})", KINO_STATUS_INVALID_ARGUMENT,
                  [] { kino::Config{}.ca_pem(std::string_view{}); }));
    kino::Config{}.clear_ca();
    EXPECT(throws("format(7)", KINO_STATUS_INVALID_ARGUMENT,
                  [] { kino::Config{}.format(static_cast<kino::Format>(7)); }));
    kino::Config{}
        .retry_backoff_ms(100, 1000)
        .max_body_bytes(64 * 1024)
        .gzip(true)
        .no_spool()
        .spool_max_bytes(1024 * 1024)
        .spool_max_age_s(3600)
        .format(kino::Format::Ndjson)
        .format(kino::Format::Json);
    kino::Config moved_from;
    kino::Config taker = std::move(moved_from);
    EXPECT(throws("moved-from config", KINO_STATUS_NULL_ARGUMENT,
                  [&] { moved_from.batch_size(1); }));
    // Not a default emitter (kino_emitter_new(NULL)) in its place.
    EXPECT(throws("emitter from a moved-from config", KINO_STATUS_NULL_ARGUMENT,
                  [&] { kino::Emitter from_nothing{moved_from}; }));
    taker.batch_size(1);

    kino::Qoe qoe;
    EXPECT(qoe.score() == 100.0);
    qoe.initial_buffer(5.0);
    std::printf("qoe calculator: 5 s startup -> %.1f\n", qoe.score());
    EXPECT(std::fabs(qoe.score() - 85.0) < 1e-9);
    EXPECT(qoe.breakdown().initial_buffer_time == 5.0);
    EXPECT(throws("qoe.rebuffer(-1)", KINO_STATUS_INVALID_ARGUMENT, [&] { qoe.rebuffer(-1.0); }));
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: wrapper BEACON_URL\n");
        return 2;
    }
    std::printf("kino %s (header %s)\n", kino::version(), KINO_VERSION_STRING);
    if (std::string(kino::version()) != KINO_VERSION_STRING) {
        return 1;
    }
    try {
        if (collector_session(argv[1]) != 0 || callback_sessions() != 0 || context_calls() != 0 ||
            config_and_qoe() != 0) {
            return 1;
        }
    } catch (const kino::Error &e) {
        std::fprintf(stderr, "wrapper: unexpected %s\n", e.what());
        return 1;
    }
    std::printf("wrapper: ok\n");
    return 0;
}
