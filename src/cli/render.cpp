#include "cli/render.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace vibe::cli {

bool stdout_is_tty() {
  return isatty(STDOUT_FILENO) == 1;
}

std::string fit(std::string_view text, std::size_t width) {
  std::string out;
  std::size_t columns = 0;
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
    if (columns + 1 > width) {
      if (!out.empty()) {
        // Replace the last code point with an ellipsis to show the cut.
        std::size_t back = out.size() - 1;
        while (back > 0 && (static_cast<unsigned char>(out[back]) & 0xc0) == 0x80) {
          --back;
        }
        out.resize(back);
        out += "…";
      }
      return out;
    }
    const char ch = text[i];
    out.append(ch == '\n' || ch == '\r' || ch == '\t' ? " " : std::string{text.substr(i, len)});
    i += len;
    ++columns;
  }
  out.append(width - columns, ' ');
  return out;
}

std::string event_line(const core::Event& event) {
  std::string title;
  const auto content = nlohmann::json::parse(event.content, nullptr, false);
  if (content.is_object()) {
    for (const char* key : {"title", "summary", "content", "line", "text", "message", "name"}) {
      if (auto it = content.find(key); it != content.end() && it->is_string() && !it->get<std::string>().empty()) {
        title = it->get<std::string>();
        break;
      }
    }
  }
  if (title.empty()) {
    title = "(" + event.type + ")";
  }
  std::string line = fmt::format("{}  {}  {}  {}", core::format_rfc3339_seconds(event.occurred_at),
                                 fit(event.source_id, 12), fit(event.type, 12), fit(title, 72));
  if (!event.url.empty()) {
    line += "  " + event.url;
  }
  while (!line.empty() && line.back() == ' ') {
    line.pop_back();
  }
  return line;
}

void print_json_line(const nlohmann::json& value) {
  const std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace vibe::cli
