// kino.hpp — a header-only C++17 wrapper over kino.h (RAII, exceptions).
//
// Hand-written (kino.h is generated); it only calls the C API, so it works
// with the shared and the static library alike.
//
//   #include "kino.hpp"
//
//   kino::Emitter em{kino::Config{}
//                        .beacon_url("https://collector.example/v1/beacon")
//                        .batch_size(20)};
//   em.load("https://cdn.example/movie/master.m3u8");
//   em.quality_change(0, 800000, std::nullopt, kino::Resolution{854, 480},
//                     kino::QualityChangeReason::Initial);
//   em.play(0.0);                       // at the first rendered frame
//   ...
//   em.end(position, watched);
//   // ~Emitter delivers what is queued (within the shutdown timeout) and frees
//
// Error handling
// --------------
// A call that kino refuses throws kino::Error, a std::runtime_error that
// carries the KinoStatus (error.status()) and kino_last_error_message()'s
// text (error.message()); what() reads "KINO_STATUS_…: <message>". Two
// outcomes are not errors but normal operation, so they are returned, never
// thrown:
//   - every emit method returns bool: true when the event was queued, false
//     when the queue was full (KINO_STATUS_QUEUE_FULL: the event was dropped
//     and counted in stats().dropped);
//   - flush() returns false when its timeout passed (KINO_STATUS_TIMEOUT).
// Everything else — NaN/negative numbers, bad URLs, invalid JSON, a
// moved-from Emitter or Config (KINO_STATUS_NULL_ARGUMENT), a string holding a NUL
// byte (KINO_STATUS_INVALID_ARGUMENT, checked here) — throws. Memory
// exhaustion in kino_config_new / kino_qoe_new throws std::bad_alloc.
//
// Engine callbacks written in C (GStreamer bus handlers, JNI functions…)
// must not let an exception escape: catch kino::Error there, or call the C
// API directly through Emitter::get().
//
// Threads
// -------
// Like KinoEmitter, an Emitter may be used from any number of threads at
// once (every emit, flush, stats, qoe, session_id); only its destruction
// (or a move from it) must come last, once no other thread uses it. A
// Config or a Qoe is for one thread at a time. A batch callback runs on
// kino's background thread.

#ifndef KINO_HPP
#define KINO_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "kino.h"

namespace kino {

using Status = KinoStatus;
using Resolution = KinoResolution;
using Stats = KinoStats;
using QoeBreakdown = KinoQoeBreakdown;

/// The player's state, for Emitter::state_change (KinoPlayerState).
enum class PlayerState : std::uint32_t {
    Idle = KINO_PLAYER_STATE_IDLE,
    Loading = KINO_PLAYER_STATE_LOADING,
    Playing = KINO_PLAYER_STATE_PLAYING,
    Paused = KINO_PLAYER_STATE_PAUSED,
    Buffering = KINO_PLAYER_STATE_BUFFERING,
    Seeking = KINO_PLAYER_STATE_SEEKING,
    Ended = KINO_PLAYER_STATE_ENDED,
    Error = KINO_PLAYER_STATE_ERROR,
};

/// Why the rendition changed, for Emitter::quality_change
/// (KinoQualityChangeReason).
enum class QualityChangeReason : std::uint32_t {
    Abr = KINO_QUALITY_CHANGE_REASON_ABR,
    Manual = KINO_QUALITY_CHANGE_REASON_MANUAL,
    Buffer = KINO_QUALITY_CHANGE_REASON_BUFFER,
    Initial = KINO_QUALITY_CHANGE_REASON_INITIAL,
};

/// The layout of beacon bodies, for Config::format (KinoFormat).
enum class Format : std::uint32_t {
    Json = KINO_FORMAT_JSON,
    Ndjson = KINO_FORMAT_NDJSON,
    OtlpJson = KINO_FORMAT_OTLP_JSON,
};

/// How Emitter::cmcd lays out CMCD data (KinoCmcdForm).
enum class CmcdForm : std::uint32_t {
    Query = KINO_CMCD_FORM_QUERY,
    Headers = KINO_CMCD_FORM_HEADERS,
};

/// kino's version at run time ("MAJOR.MINOR.PATCH"); compare with
/// KINO_VERSION_STRING, the version the code was compiled against.
inline const char *version() noexcept { return kino_version(); }

/// The name of a status, for example "KINO_STATUS_QUEUE_FULL".
inline const char *status_str(Status status) noexcept {
    return kino_status_str(static_cast<std::uint32_t>(status));
}

/// A call kino refused: the status and kino's explanation.
class Error : public std::runtime_error {
  public:
    Error(Status status, const std::string &message)
        : std::runtime_error(std::string(status_str(status)) + ": " + message),
          status_(status), message_(std::make_shared<const std::string>(message)) {}

    /// The KinoStatus the call returned.
    Status status() const noexcept { return status_; }
    /// kino_last_error_message() at the time of the failure.
    const std::string &message() const noexcept { return *message_; }

  private:
    Status status_;
    std::shared_ptr<const std::string> message_; // shared: copying never throws
};

namespace detail {

/// Throws kino::Error for any status but OK, with this thread's message.
inline void check(Status status) {
    if (status != KINO_STATUS_OK) {
        throw Error(status, kino_last_error_message());
    }
}

/// An event call: true if queued, false if dropped (queue full).
inline bool check_emit(Status status) {
    if (status == KINO_STATUS_QUEUE_FULL) {
        return false;
    }
    check(status);
    return true;
}

/// C strings stop at the first NUL: refuse text that would be cut there.
inline const char *c_str(const std::string &s, const char *what) {
    if (s.find('\0') != std::string::npos) {
        throw Error(KINO_STATUS_INVALID_ARGUMENT,
                    std::string(what) + " contains a NUL byte");
    }
    return s.c_str();
}

inline const KinoResolution *opt(const std::optional<Resolution> &r) noexcept {
    return r ? &*r : nullptr;
}

inline std::uint32_t clamp_ms(std::chrono::milliseconds ms) noexcept {
    if (ms.count() <= 0) {
        return 0;
    }
    constexpr auto max = std::numeric_limits<std::uint32_t>::max();
    return ms.count() >= static_cast<std::chrono::milliseconds::rep>(max)
               ? max
               : static_cast<std::uint32_t>(ms.count());
}

/// Reads a text kino writes into a caller buffer (`fill(buf, len,
/// &needed)`): asks for the size, then reads, again if it grew meanwhile.
template <typename Fill> std::string read_text(Fill fill) {
    std::size_t needed = 0;
    const Status asked = fill(nullptr, 0, &needed);
    if (asked != KINO_STATUS_BUFFER_TOO_SMALL) {
        check(asked);
    }
    for (;;) {
        std::string text(needed, '\0');
        const Status status = fill(text.data(), text.size(), &needed);
        if (status == KINO_STATUS_BUFFER_TOO_SMALL) {
            continue; // the text grew between the calls
        }
        check(status);
        text.resize(needed > 0 ? needed - 1 : 0); // drop the NUL
        return text;
    }
}

/// A metadata value for kino: NULL (remove the key) when empty optional.
inline const char *opt_str(const std::optional<std::string> &v, const char *what) {
    return v ? c_str(*v, what) : nullptr;
}

} // namespace detail

/// Receives each batch on kino's background thread: `json` is the batch
/// text (a JSON array of records), valid only during the call. Return true
/// when the batch is delivered; false refuses it for good (counted in
/// stats().failed), and so does an exception, which never reaches kino.
/// For "retry later" use a C callback through Config::get(). The callback
/// must not destroy (or move from) its own Emitter: kino refuses that free,
/// and the Emitter would still release the callback that is running.
using BatchCallback = std::function<bool(std::string_view json)>;

class Emitter;

/// Options for an Emitter (wraps KinoConfig). Setters return *this, so
/// they chain; a refused value throws kino::Error. Move-only. Emitters made
/// from a Config do not depend on it afterwards.
class Config {
  public:
    /// The defaults (see kino_config_new), including KINO_BEACON_URL.
    Config() : raw_(kino_config_new()) {
        if (raw_ == nullptr) {
            throw std::bad_alloc();
        }
    }
    ~Config() { kino_config_free(raw_); }
    Config(Config &&other) noexcept
        : raw_(std::exchange(other.raw_, nullptr)), callback_(std::move(other.callback_)) {}
    Config &operator=(Config &&other) noexcept {
        if (this != &other) {
            kino_config_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
            callback_ = std::move(other.callback_);
        }
        return *this;
    }
    Config(const Config &) = delete;
    Config &operator=(const Config &) = delete;

    /// Collector URL, http:// or https:// with a host.
    Config &beacon_url(const std::string &url) {
        detail::check(kino_config_set_beacon_url(raw_, detail::c_str(url, "beacon URL")));
        return *this;
    }
    /// No collector URL (batches go to the callback, or count as failed).
    Config &no_beacon_url() {
        detail::check(kino_config_set_beacon_url(raw_, nullptr));
        return *this;
    }
    Config &batch_size(std::uint32_t events) {
        detail::check(kino_config_set_batch_size(raw_, events));
        return *this;
    }
    Config &flush_interval_ms(std::uint32_t ms) {
        detail::check(kino_config_set_flush_interval_ms(raw_, ms));
        return *this;
    }
    Config &queue_capacity(std::uint32_t events) {
        detail::check(kino_config_set_queue_capacity(raw_, events));
        return *this;
    }
    Config &request_timeout_ms(std::uint32_t ms) {
        detail::check(kino_config_set_request_timeout_ms(raw_, ms));
        return *this;
    }
    Config &shutdown_timeout_ms(std::uint32_t ms) {
        detail::check(kino_config_set_shutdown_timeout_ms(raw_, ms));
        return *this;
    }
    Config &header(const std::string &name, const std::string &value) {
        detail::check(kino_config_add_header(raw_, detail::c_str(name, "header name"),
                                             detail::c_str(value, "header value")));
        return *this;
    }
    Config &keep_url_query(bool keep) {
        detail::check(kino_config_set_keep_url_query(raw_, keep));
        return *this;
    }
    Config &retry_backoff_ms(std::uint32_t min_ms, std::uint32_t max_ms) {
        detail::check(kino_config_set_retry_backoff_ms(raw_, min_ms, max_ms));
        return *this;
    }
    Config &max_body_bytes(std::uint32_t bytes) {
        detail::check(kino_config_set_max_body_bytes(raw_, bytes));
        return *this;
    }
    Config &gzip(bool on) {
        detail::check(kino_config_set_gzip(raw_, on));
        return *this;
    }
    /// Keep undelivered batches on disk in `path` (see kino_config_set_spool_dir).
    Config &spool_dir(const std::string &path) {
        detail::check(kino_config_set_spool_dir(raw_, detail::c_str(path, "spool directory")));
        return *this;
    }
    /// No spool (the default).
    Config &no_spool() {
        detail::check(kino_config_set_spool_dir(raw_, nullptr));
        return *this;
    }
    Config &spool_max_bytes(std::uint64_t bytes) {
        detail::check(kino_config_set_spool_max_bytes(raw_, bytes));
        return *this;
    }
    Config &spool_max_age_s(std::uint32_t seconds) {
        detail::check(kino_config_set_spool_max_age_s(raw_, seconds));
        return *this;
    }
    /// Session metadata for every view of emitters made from this config;
    /// std::nullopt removes the key (docs/EVENTS.md lists the keys).
    Config &metadata(const std::string &key, const std::optional<std::string> &value) {
        detail::check(kino_config_set_metadata(raw_, detail::c_str(key, "metadata key"),
                                               detail::opt_str(value, "metadata value")));
        return *this;
    }
    Config &metadata_on_every_record(bool on) {
        detail::check(kino_config_set_metadata_on_every_record(raw_, on));
        return *this;
    }
    /// The share of sessions collected, in (0, 1].
    Config &sample_rate(double rate) {
        detail::check(kino_config_set_sample_rate(raw_, rate));
        return *this;
    }
    /// CA certificates (a PEM file) trusted beside kino's built-in roots.
    Config &ca_file(const std::string &path) {
        detail::check(kino_config_set_ca_file(raw_, detail::c_str(path, "CA file path")));
        return *this;
    }
    /// CA certificates as PEM text, trusted beside kino's built-in roots.
    /// An empty view is refused (`INVALID_ARGUMENT`), never taken for the
    /// NULL that clears the CAs: use `clear_ca()` for that.
    Config &ca_pem(std::string_view pem) {
        const char *text = pem.data() != nullptr ? pem.data() : "";
        detail::check(kino_config_set_ca_pem(raw_, text, pem.size()));
        return *this;
    }
    /// Forgets the CAs set by `ca_file` or `ca_pem`.
    Config &clear_ca() {
        detail::check(kino_config_set_ca_pem(raw_, nullptr, 0));
        return *this;
    }
    /// When a batch that keeps getting server errors is given up: after
    /// `attempts` tries, or once its first try is `max_age_s` old.
    Config &server_error_limit(std::uint32_t attempts, std::uint32_t max_age_s) {
        detail::check(kino_config_set_server_error_limit(raw_, attempts, max_age_s));
        return *this;
    }
    Config &format(Format format) {
        detail::check(kino_config_set_format(raw_, static_cast<std::uint32_t>(format)));
        return *this;
    }
    /// Delivers batches to `callback` instead of the beacon URL. Each
    /// Emitter made from this Config shares ownership of the callback, so
    /// it lives as long as they do. An empty function clears it.
    Config &batch_callback(BatchCallback callback) {
        if (!callback) {
            detail::check(kino_config_set_batch_callback(raw_, nullptr, nullptr));
            callback_.reset();
            return *this;
        }
        auto owned = std::make_shared<BatchCallback>(std::move(callback));
        detail::check(kino_config_set_batch_callback(raw_, &trampoline, owned.get()));
        callback_ = std::move(owned);
        return *this;
    }

    /// The underlying KinoConfig, for calls this wrapper does not cover.
    KinoConfig *get() const noexcept { return raw_; }

  private:
    friend class Emitter;

    static int trampoline(void *user_data, const char *json, std::size_t len) noexcept {
        try {
            const auto &callback = *static_cast<const BatchCallback *>(user_data);
            return callback(std::string_view(json, len)) ? 0 : 1;
        } catch (...) {
            return 1;
        }
    }

    KinoConfig *raw_;
    std::shared_ptr<BatchCallback> callback_;
};

/// One player instance's analytics pipe (wraps KinoEmitter). Move-only;
/// the destructor delivers what is queued within the shutdown timeout and
/// frees it. A moved-from Emitter throws KINO_STATUS_NULL_ARGUMENT.
class Emitter {
  public:
    /// Defaults (kino_emitter_new with NULL), including KINO_BEACON_URL.
    Emitter() { detail::check(kino_emitter_new(nullptr, &raw_)); }
    /// From a configuration, which stays the caller's. A moved-from Config
    /// throws KINO_STATUS_NULL_ARGUMENT (kino_emitter_new would take its
    /// NULL for "the defaults").
    explicit Emitter(const Config &config) : callback_(config.callback_) {
        if (config.get() == nullptr) {
            throw Error(KINO_STATUS_NULL_ARGUMENT, "config is NULL (moved from)");
        }
        detail::check(kino_emitter_new(config.get(), &raw_));
    }
    ~Emitter() { reset(); }
    Emitter(Emitter &&other) noexcept
        : raw_(std::exchange(other.raw_, nullptr)), callback_(std::move(other.callback_)) {}
    Emitter &operator=(Emitter &&other) noexcept {
        if (this != &other) {
            reset();
            raw_ = std::exchange(other.raw_, nullptr);
            callback_ = std::move(other.callback_);
        }
        return *this;
    }
    Emitter(const Emitter &) = delete;
    Emitter &operator=(const Emitter &) = delete;

    // Events (see docs/EVENTS.md for when to call each). true: queued;
    // false: dropped because the queue was full.

    bool load(const std::string &url, bool is_live = false) {
        return detail::check_emit(kino_emit_load(raw_, detail::c_str(url, "URL"), is_live));
    }
    bool play(double position) { return detail::check_emit(kino_emit_play(raw_, position)); }
    bool pause(double position) { return detail::check_emit(kino_emit_pause(raw_, position)); }
    bool seek(double from, double to) { return detail::check_emit(kino_emit_seek(raw_, from, to)); }
    bool rebuffer(double position, double buffer_level) {
        return detail::check_emit(kino_emit_rebuffer(raw_, position, buffer_level));
    }
    bool rebuffer_end(double position, double duration = 0.0) {
        return detail::check_emit(kino_emit_rebuffer_end(raw_, position, duration));
    }
    bool quality_change(std::uint64_t from_bitrate, std::uint64_t to_bitrate,
                        const std::optional<Resolution> &from_resolution,
                        const std::optional<Resolution> &to_resolution,
                        QualityChangeReason reason) {
        return detail::check_emit(kino_emit_quality_change(
            raw_, from_bitrate, to_bitrate, detail::opt(from_resolution),
            detail::opt(to_resolution), static_cast<std::uint32_t>(reason)));
    }
    bool state_change(PlayerState from, PlayerState to, double position) {
        return detail::check_emit(kino_emit_state_change(raw_, static_cast<std::uint32_t>(from),
                                                         static_cast<std::uint32_t>(to),
                                                         position));
    }
    bool end(double position, double watch_time) {
        return detail::check_emit(kino_emit_end(raw_, position, watch_time));
    }
    bool error(const std::string &code, const std::string &message, bool fatal,
               double position) {
        return detail::check_emit(kino_emit_error(raw_, detail::c_str(code, "error code"),
                                                  detail::c_str(message, "error message"),
                                                  fatal, position));
    }
    bool heartbeat(double position, double buffer_level, std::uint64_t bitrate,
                   std::uint64_t dropped_frames, std::uint64_t decoded_frames) {
        return detail::check_emit(kino_emit_heartbeat(raw_, position, buffer_level, bitrate,
                                                      dropped_frames, decoded_frames));
    }
    /// A custom event whose data is the JSON text `json`.
    bool custom(const std::string &name, const std::string &json) {
        return detail::check_emit(kino_emit_custom(raw_, detail::c_str(name, "event name"),
                                                   detail::c_str(json, "JSON data")));
    }
    /// A custom event whose data is JSON null.
    bool custom(const std::string &name) {
        return detail::check_emit(
            kino_emit_custom(raw_, detail::c_str(name, "event name"), nullptr));
    }

    /// Waits until everything emitted before has been dealt with; false if
    /// `timeout` passed first.
    bool flush(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
        const Status status = kino_emitter_flush(raw_, detail::clamp_ms(timeout));
        if (status == KINO_STATUS_TIMEOUT) {
            return false;
        }
        detail::check(status);
        return true;
    }

    /// The session id (a UUID, 36 characters).
    std::string session_id() const {
        char buf[37] = {0};
        detail::check(kino_emitter_session_id(raw_, buf, sizeof buf));
        return std::string(buf);
    }
    Stats stats() const {
        Stats out{};
        detail::check(kino_emitter_stats(raw_, &out));
        return out;
    }
    /// QoE figures of the open view, else the last closed one.
    QoeBreakdown qoe() const {
        QoeBreakdown out{};
        detail::check(kino_emitter_qoe(raw_, &out));
        return out;
    }
    /// The open (else last) view as ITU-T P.1203 input JSON.
    std::string export_p1203(double fps) const {
        return detail::read_text([&](char *buf, std::size_t len, std::size_t *needed) {
            return kino_emitter_export_p1203(raw_, fps, buf, len, needed);
        });
    }

    /// Session metadata, at any time (ordered with this thread's events);
    /// std::nullopt removes the key.
    void set_metadata(const std::string &key, const std::optional<std::string> &value) {
        detail::check(kino_emitter_set_metadata(raw_, detail::c_str(key, "metadata key"),
                                                detail::opt_str(value, "metadata value")));
    }
    /// Metadata of the open view (else the next one).
    void set_view_metadata(const std::string &key, const std::optional<std::string> &value) {
        detail::check(kino_emitter_set_view_metadata(
            raw_, detail::c_str(key, "metadata key"), detail::opt_str(value, "metadata value")));
    }
    /// Whether this session is collected (the sample rate's decision).
    bool sampled() const {
        bool out = false;
        detail::check(kino_emitter_sampled(raw_, &out));
        return out;
    }
    /// The viewer's consent: false clears and stops collecting until true.
    void set_consent(bool granted) { detail::check(kino_emitter_set_consent(raw_, granted)); }
    /// Discards the records not yet delivered (the seed's clear()).
    void clear() { detail::check(kino_emitter_clear(raw_)); }
    /// The records not yet delivered, as the JSON array the collector will
    /// get (the seed's get_events()).
    std::string pending_events() const {
        return detail::read_text([&](char *buf, std::size_t len, std::size_t *needed) {
            return kino_emitter_pending_events(raw_, buf, len, needed);
        });
    }
    /// CMCD data for the next segment request: a `CMCD=` query argument, or
    /// header lines.
    std::string cmcd(CmcdForm form) const {
        return detail::read_text([&](char *buf, std::size_t len, std::size_t *needed) {
            return kino_emitter_cmcd(raw_, static_cast<std::uint32_t>(form), buf, len, needed);
        });
    }
    /// Why the last delivery failed (stats().last_error's message).
    std::string last_delivery_error() const {
        return detail::read_text([&](char *buf, std::size_t len, std::size_t *needed) {
            return kino_emitter_last_delivery_error(raw_, buf, len, needed);
        });
    }

    /// The underlying KinoEmitter (NULL once moved from). Do not free it.
    KinoEmitter *get() const noexcept { return raw_; }
    explicit operator bool() const noexcept { return raw_ != nullptr; }

  private:
    void reset() noexcept {
        // kino_emitter_free returns once kino will never call the batch
        // callback again; only then may the callback be released.
        kino_emitter_free(std::exchange(raw_, nullptr));
        callback_.reset();
    }

    KinoEmitter *raw_ = nullptr;
    std::shared_ptr<BatchCallback> callback_;
};

/// The stand-alone QoE calculator (wraps KinoQoe): the seed's arithmetic,
/// fed by hand. Move-only; one thread at a time.
class Qoe {
  public:
    Qoe() : raw_(kino_qoe_new()) {
        if (raw_ == nullptr) {
            throw std::bad_alloc();
        }
    }
    ~Qoe() { kino_qoe_free(raw_); }
    Qoe(Qoe &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    Qoe &operator=(Qoe &&other) noexcept {
        if (this != &other) {
            kino_qoe_free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    Qoe(const Qoe &) = delete;
    Qoe &operator=(const Qoe &) = delete;

    Qoe &initial_buffer(double seconds) {
        detail::check(kino_qoe_record_initial_buffer(raw_, seconds));
        return *this;
    }
    Qoe &rebuffer(double seconds) {
        detail::check(kino_qoe_record_rebuffer(raw_, seconds));
        return *this;
    }
    Qoe &quality_switch(double timestamp, std::uint64_t bitrate) {
        detail::check(kino_qoe_record_quality_switch(raw_, timestamp, bitrate));
        return *this;
    }
    Qoe &bitrate(double duration, std::uint64_t bitrate) {
        detail::check(kino_qoe_record_bitrate(raw_, duration, bitrate));
        return *this;
    }
    /// 0..100.
    double score() const noexcept { return kino_qoe_score(raw_); }
    QoeBreakdown breakdown() const {
        QoeBreakdown out{};
        detail::check(kino_qoe_breakdown(raw_, &out));
        return out;
    }

    KinoQoe *get() const noexcept { return raw_; }

  private:
    KinoQoe *raw_;
};

} // namespace kino

#endif // KINO_HPP
