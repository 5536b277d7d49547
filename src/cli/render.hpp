#pragma once

#include "core/event.hpp"

#include <nlohmann/json.hpp>

#include <string>

// Output helpers shared by commands: one line per event on a terminal, NDJSON
// with --json.
namespace vibe::cli {

bool stdout_is_tty();

// "2025-03-14T16:45:00Z  hn  feed_item  Title  https://link", columns cut to fit.
std::string event_line(const core::Event& event);

// One NDJSON line (with '\n').
void print_json_line(const nlohmann::json& value);

// Pads or cuts `text` (UTF-8) to `width` display columns (one per code point).
std::string fit(std::string_view text, std::size_t width);

}  // namespace vibe::cli
