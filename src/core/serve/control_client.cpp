#include "core/serve/control_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace vibe::core {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

constexpr std::pair<Errc, std::string_view> k_errc_names[] = {
    {Errc::config, "config"},       {Errc::usage, "usage"},         {Errc::network, "network"},
    {Errc::http, "http"},           {Errc::parse, "parse"},         {Errc::storage, "storage"},
    {Errc::not_found, "not_found"}, {Errc::cancelled, "cancelled"}, {Errc::conflict, "conflict"},
    {Errc::unavailable, "unavailable"},
};

}  // namespace

std::string_view errc_name(Errc code) {
  for (const auto& [c, name] : k_errc_names) {
    if (c == code) {
      return name;
    }
  }
  return "error";
}

Errc errc_from_name(std::string_view name) {
  for (const auto& [c, n] : k_errc_names) {
    if (n == name) {
      return c;
    }
  }
  return Errc::network;
}

namespace {

Result<int> connect_socket(const std::filesystem::path& socket) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = socket.string();
  if (path.size() >= sizeof addr.sun_path) {
    return fail(Errc::usage, fmt::format("socket path too long ({} bytes, at most {}): {}", path.size(),
                                         sizeof addr.sun_path - 1, path));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail(Errc::network, fmt::format("socket: {}", std::strerror(errno)));
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED) {
      return fail(Errc::unavailable, fmt::format("vibe serve is not running (no one listens on {})", path));
    }
    return fail(Errc::network, fmt::format("cannot connect to {}: {}", path, std::strerror(err)));
  }
  return fd;
}

Result<void> send_all(int fd, std::string_view out) {
  std::size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(Errc::network, fmt::format("send to vibe serve: {}", std::strerror(errno)));
    }
    sent += static_cast<std::size_t>(n);
  }
  return {};
}

Result<void> send_line(int fd, const nlohmann::json& request) {
  return send_all(fd, request.dump() + "\n");
}

// Reads until `buffer` holds a full line or `timeout` passes; returns the
// line (without '\n') or nullopt on timeout (a zero timeout takes what has
// arrived, without waiting). Errors: Errc::unavailable on EOF.
Result<std::optional<std::string>> read_line(int fd, std::string& buffer, Millis timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool looked = false;
  for (;;) {
    if (const auto newline = buffer.find('\n'); newline != std::string::npos) {
      std::string line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      return std::optional<std::string>{std::move(line)};
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 && looked) {
      return std::optional<std::string>{};
    }
    looked = true;
    pollfd p{fd, POLLIN, 0};
    const int ready =
        ::poll(&p, 1, static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 1'000'000)));
    if (ready < 0 && errno != EINTR) {
      return fail(Errc::network, fmt::format("poll: {}", std::strerror(errno)));
    }
    if (ready <= 0) {
      continue;
    }
    char buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(Errc::network, fmt::format("read from vibe serve: {}", std::strerror(errno)));
    }
    if (n == 0) {
      return fail(Errc::unavailable, "vibe serve closed the connection");
    }
    buffer.append(buf, static_cast<std::size_t>(n));
  }
}

Error reply_error_of(const nlohmann::json& reply) {
  const auto& error = reply.contains("error") && reply["error"].is_object() ? reply["error"] : nlohmann::json::object();
  return Error{errc_from_name(error.value("code", "")), error.value("message", std::string{"vibe serve refused"})};
}

}  // namespace

Result<nlohmann::json> control_request(const std::filesystem::path& socket, const nlohmann::json& request,
                                       Millis timeout) {
  auto fd = connect_socket(socket);
  if (!fd) {
    return tl::unexpected(fd.error());
  }
  Fd owner{*fd};
  if (auto sent = send_line(*fd, request); !sent) {
    return tl::unexpected(sent.error());
  }
  std::string buffer;
  auto line = read_line(*fd, buffer, timeout);
  if (!line) {
    if (line.error().code == Errc::unavailable) {
      return fail(Errc::network, "vibe serve closed the connection without an answer (is it shutting down?)");
    }
    return tl::unexpected(line.error());
  }
  if (!*line) {
    return fail(Errc::network, fmt::format("vibe serve did not answer within {}", format_duration(timeout)));
  }
  auto reply = nlohmann::json::parse(**line, nullptr, false);
  if (!reply.is_object()) {
    return fail(Errc::network, "vibe serve sent a reply that is not a JSON object");
  }
  return reply_result(reply);
}

Result<nlohmann::json> reply_result(const nlohmann::json& reply) {
  if (reply.is_object() && reply.value("ok", false)) {
    return reply.contains("result") ? reply["result"] : nlohmann::json::object();
  }
  return tl::unexpected(reply_error_of(reply));
}

Result<ControlStream> ControlStream::open(const std::filesystem::path& socket, const nlohmann::json& request) {
  auto stream = connect(socket);
  if (!stream) {
    return stream;
  }
  if (auto sent = stream->send(request); !sent) {
    return tl::unexpected(sent.error());
  }
  return stream;
}

Result<ControlStream> ControlStream::connect(const std::filesystem::path& socket) {
  auto fd = connect_socket(socket);
  if (!fd) {
    return tl::unexpected(fd.error());
  }
  return ControlStream{*fd};
}

Result<void> ControlStream::send(const nlohmann::json& request, std::string_view body) {
  if (auto sent = send_line(m_fd, request); !sent) {
    return sent;
  }
  return send_all(m_fd, body);
}

ControlStream::ControlStream(ControlStream&& other) noexcept
    : m_fd(std::exchange(other.m_fd, -1)), m_buffer(std::move(other.m_buffer)) {}

ControlStream::~ControlStream() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

Result<std::optional<nlohmann::json>> ControlStream::next_line(Millis timeout) {
  auto line = read_line(m_fd, m_buffer, timeout);
  if (!line) {
    return tl::unexpected(line.error());
  }
  if (!*line) {
    return std::optional<nlohmann::json>{};
  }
  auto value = nlohmann::json::parse(**line, nullptr, false);
  if (!value.is_object()) {
    return fail(Errc::network, "vibe serve sent a line that is not a JSON object");
  }
  return std::optional<nlohmann::json>{std::move(value)};
}

Result<std::optional<nlohmann::json>> ControlStream::next(Millis timeout) {
  auto value = next_line(timeout);
  if (value && *value && (*value)->contains("ok") && !(*value)->value("ok", true)) {
    return tl::unexpected(reply_error_of(**value));
  }
  return value;
}

}  // namespace vibe::core
