#include "core/serve/control_client.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

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

Result<nlohmann::json> control_request(const std::filesystem::path& socket, const nlohmann::json& request,
                                       Millis timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = socket.string();
  if (path.size() >= sizeof addr.sun_path) {
    return fail(Errc::usage, fmt::format("socket path too long ({} bytes, at most {}): {}", path.size(),
                                         sizeof addr.sun_path - 1, path));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd fd{::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (fd.fd < 0) {
    return fail(Errc::network, fmt::format("socket: {}", std::strerror(errno)));
  }
  if (::connect(fd.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ECONNREFUSED) {
      return fail(Errc::unavailable, fmt::format("vibe serve is not running (no one listens on {})", path));
    }
    return fail(Errc::network, fmt::format("cannot connect to {}: {}", path, std::strerror(err)));
  }
  std::string out = request.dump() + "\n";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = ::send(fd.fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(Errc::network, fmt::format("send to {}: {}", path, std::strerror(errno)));
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string in;
  char buf[65536];
  while (in.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return fail(Errc::network, fmt::format("vibe serve did not answer within {}", format_duration(timeout)));
    }
    pollfd p{fd.fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1'000'000)));
    if (ready < 0 && errno != EINTR) {
      return fail(Errc::network, fmt::format("poll: {}", std::strerror(errno)));
    }
    if (ready <= 0) {
      continue;
    }
    const ssize_t n = ::recv(fd.fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return fail(Errc::network, fmt::format("read from {}: {}", path, std::strerror(errno)));
    }
    if (n == 0) {
      return fail(Errc::network, "vibe serve closed the connection without an answer (is it shutting down?)");
    }
    in.append(buf, static_cast<std::size_t>(n));
  }
  auto reply = nlohmann::json::parse(in.substr(0, in.find('\n')), nullptr, false);
  if (!reply.is_object()) {
    return fail(Errc::network, "vibe serve sent a reply that is not a JSON object");
  }
  if (reply.value("ok", false)) {
    return reply.contains("result") ? reply["result"] : nlohmann::json::object();
  }
  const auto& error = reply.contains("error") && reply["error"].is_object() ? reply["error"] : nlohmann::json::object();
  return fail(errc_from_name(error.value("code", "")), error.value("message", std::string{"vibe serve refused"}));
}

}  // namespace vibe::core
