#include "core/sources/file.hpp"

#include "core/sources/http_common.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

namespace vibe::core::file {

const OptionSpec k_options[9] = {
    {"path", OptionType::path, k_required, "the file to follow (relative to vibe.yaml's directory)"},
    {"format", OptionType::string, "lines", "lines (one event per line) or ndjson (one JSON object per line)"},
    {"from", OptionType::string, "end", "where a file seen for the first time is read from: end or start"},
    {"event_type", OptionType::string, "line", "the type of the events"},
    {"id", OptionType::string, "", "JSON Pointer to a record's id (ndjson); unset: the line's position"},
    {"time", OptionType::string, "", "JSON Pointer to a record's time (ndjson)"},
    VIBE_POLL_OPTION_ROWS("2s", "250ms", "30s"),
};

namespace {

constexpr std::size_t k_max_read = 16 * 1024 * 1024;  // per poll; the rest comes next poll
using http_common::k_max_line;

// The descriptor a source follows, kept open between polls so the rest of a
// rotated file can still be read: by source id.
struct Followed {
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
  ~Followed() {
    if (fd >= 0) {
      close(fd);
    }
  }
};

std::mutex g_mutex;
std::map<std::string, std::shared_ptr<Followed>>& followed() {
  static std::map<std::string, std::shared_ptr<Followed>> map;
  return map;
}

// Where reading stands. `gen` counts the times reading started over (a
// rotation, a truncation, another file at the path): with the offset it
// makes each line's dedup key, so a line at an offset read before is not
// taken for it after the file started over.
struct Position {
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::uint64_t offset = 0;
  std::uint64_t gen = 0;
  bool known = false;
  bool skipping = false;  // in a line over the limit: drop up to its newline
};

Position read_memo(const nlohmann::json& memo) {
  Position p;
  if (memo.is_object() && memo.contains("inode") && memo.contains("offset") && memo["inode"].is_number_unsigned() &&
      memo["offset"].is_number_unsigned()) {
    p.dev = memo.value("dev", std::uint64_t{0});
    p.ino = memo["inode"].get<std::uint64_t>();
    p.offset = memo["offset"].get<std::uint64_t>();
    p.gen = memo.value("gen", std::uint64_t{0});
    p.skipping = memo.value("skipping", false);
    p.known = true;
  }
  return p;
}

class FileSource final : public Source {
public:
  explicit FileSource(SourceSpec spec) : m_spec(std::move(spec)) {
    m_fields = {m_spec.options.get("event_type"), m_spec.options.get("id"), m_spec.options.get("time"), ""};
  }

  bool is_local() const override { return true; }

  Result<Poll> poll_local(PollContext& context, UnixMicros now, const std::atomic<bool>*) const override {
    const std::string& path = m_spec.options.get("path");
    Position pos = read_memo(context.memo);
    Poll poll;
    std::lock_guard lock{g_mutex};
    std::shared_ptr<Followed>& f = followed()[m_spec.id];
    struct stat at_path {};
    const bool exists = ::stat(path.c_str(), &at_path) == 0;
    // The descriptor still open from the last poll, if it is the file the memo speaks of.
    if (f && pos.known && (f->ino != pos.ino || f->dev != pos.dev)) {
      f.reset();
    }
    if (f && pos.known) {
      if (auto r = read_lines(*f, pos, poll, now); !r) {
        return tl::unexpected(r.error());
      }
      const bool rotated = exists && (at_path.st_ino != f->ino || at_path.st_dev != f->dev);
      if (!rotated) {
        context.memo = memo_of(pos);
        return poll;
      }
      // Rotated: the old file is read to its end above; the new one from its start.
      if (!m_partial.empty()) {
        flush_partial(pos, poll, now);
      }
      f.reset();
      pos = Position{static_cast<std::uint64_t>(at_path.st_dev), static_cast<std::uint64_t>(at_path.st_ino), 0,
                     pos.gen + 1, true};
      poll.warnings.push_back(fmt::format("{} was rotated: reading the new file from its start", path));
    }
    if (!exists) {
      context.memo = pos.known ? memo_of(pos) : nlohmann::json(nullptr);
      poll.warnings.push_back(fmt::format("{} does not exist (yet)", path));
      return poll;
    }
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return fail(Errc::unavailable, fmt::format("source {}: cannot open {}: {}", m_spec.id, path, std::strerror(errno)));
    }
    f = std::make_shared<Followed>();
    f->fd = fd;
    struct stat st {};
    fstat(fd, &st);
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    const bool same = pos.known && pos.ino == static_cast<std::uint64_t>(st.st_ino) &&
                      pos.dev == static_cast<std::uint64_t>(st.st_dev);
    if (!same) {
      const bool first = !pos.known;
      pos = Position{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino), 0,
                     first ? 0 : pos.gen + 1, true};
      if (first && m_spec.options.get("from") == "end") {
        pos.offset = end_of_last_line(fd, static_cast<std::uint64_t>(st.st_size));
      } else if (!first) {
        poll.warnings.push_back(fmt::format("{} is another file than last time: reading it from its start", path));
      }
    }
    if (auto r = read_lines(*f, pos, poll, now); !r) {
      return tl::unexpected(r.error());
    }
    context.memo = memo_of(pos);
    return poll;
  }

private:
  static nlohmann::json memo_of(const Position& pos) {
    nlohmann::json memo{{"dev", pos.dev}, {"inode", pos.ino}, {"offset", pos.offset}, {"gen", pos.gen}};
    if (pos.skipping) {
      memo["skipping"] = true;
    }
    return memo;
  }

  // Where a file read "from the end" starts: after its last newline (a
  // half-written last line is read once it is complete), looking back at
  // most 64 KiB; at the end when there is no newline that close.
  static std::uint64_t end_of_last_line(int fd, std::uint64_t size) {
    constexpr std::uint64_t k_look_back = 64 * 1024;
    const std::uint64_t from = size > k_look_back ? size - k_look_back : 0;
    std::string tail(static_cast<std::size_t>(size - from), '\0');
    const ssize_t n = ::pread(fd, tail.data(), tail.size(), static_cast<off_t>(from));
    if (n <= 0) {
      return size;
    }
    tail.resize(static_cast<std::size_t>(n));
    const auto newline = tail.rfind('\n');
    if (newline == std::string::npos) {
      return from == 0 ? 0 : size;
    }
    return from + newline + 1;
  }

  // Reads complete lines from pos.offset (truncation: from the start),
  // advancing pos.offset past each.
  Result<void> read_lines(Followed& f, Position& pos, Poll& poll, UnixMicros now) const {
    struct stat st {};
    if (fstat(f.fd, &st) != 0) {
      return fail(Errc::unavailable, fmt::format("source {}: {}", m_spec.id, std::strerror(errno)));
    }
    if (static_cast<std::uint64_t>(st.st_size) < pos.offset) {
      poll.warnings.push_back(fmt::format("{} was truncated: reading it from its start", m_spec.options.get("path")));
      pos.offset = 0;
      ++pos.gen;
    }
    const std::uint64_t available = static_cast<std::uint64_t>(st.st_size) - pos.offset;
    if (available == 0) {
      return {};
    }
    std::string data(static_cast<std::size_t>(std::min<std::uint64_t>(available, k_max_read)), '\0');
    std::size_t got = 0;
    while (got < data.size()) {
      const ssize_t n = ::pread(f.fd, data.data() + got, data.size() - got, static_cast<off_t>(pos.offset + got));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      got += static_cast<std::size_t>(n);
    }
    data.resize(got);
    std::size_t start = 0;
    if (pos.skipping) {
      // The rest of a line over the limit, up to its newline.
      const auto end = data.find('\n');
      if (end == std::string::npos) {
        pos.offset += data.size();
        m_partial.clear();
        return {};
      }
      pos.skipping = false;
      start = end + 1;
    }
    for (;;) {
      const auto end = data.find('\n', start);
      if (end == std::string::npos) {
        break;
      }
      add_line(std::string_view{data}.substr(start, end - start), pos.gen, pos.offset + start, poll, now);
      start = end + 1;
    }
    if (data.size() - start >= k_max_line) {
      // A line longer than the limit and still going: skip it, to its newline.
      poll.skipped.push_back(fmt::format("a line over {} bytes at offset {}", k_max_line, pos.offset + start));
      pos.skipping = true;
      start = data.size();
    }
    pos.offset += start;
    m_partial = data.substr(start);
    return {};
  }

  void flush_partial(Position& pos, Poll& poll, UnixMicros now) const {
    add_line(m_partial, pos.gen, pos.offset, poll, now);
    pos.offset += m_partial.size();
    m_partial.clear();
  }

  void add_line(std::string_view line, std::uint64_t gen, std::uint64_t offset, Poll& poll, UnixMicros now) const {
    http_common::add_line(line, m_spec, m_fields, m_spec.options.get("format") == "ndjson",
                          fmt::format("{}:{}", gen, offset), fmt::format("offset {}: ", offset), now, poll);
  }

  SourceSpec m_spec;
  http_common::RecordFields m_fields;
  mutable std::string m_partial;  // the unterminated end of the last read
};

}  // namespace

std::optional<std::string> check(const OptionValues& options) {
  const std::string& format = options.get("format");
  if (format != "lines" && format != "ndjson") {
    return fmt::format("format: '{}' is not lines or ndjson", format);
  }
  const std::string& from = options.get("from");
  if (from != "end" && from != "start") {
    return fmt::format("from: '{}' is not end or start", from);
  }
  for (const char* pointer : {"id", "time"}) {
    if (auto problem = http_common::check_pointer(options, pointer)) {
      return problem;
    }
  }
  return std::nullopt;
}

void release(const std::string& id) {
  std::lock_guard lock{g_mutex};
  followed().erase(id);
}

std::unique_ptr<Source> make(const SourceSpec& spec) {
  return std::make_unique<FileSource>(spec);
}

}  // namespace vibe::core::file
