#include "core/sources/github.hpp"

#include "core/sources/http_common.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace vibe::core::github {

const OptionSpec k_options[10] = {
    {"repo", OptionType::string, k_required, "the repository, owner/name"},
    {"watch", OptionType::list, "[\"issues\", \"releases\"]", "what to follow: issues, pulls, releases, commits"},
    {"token", OptionType::string, "", "a token (sent as Authorization: Bearer), e.g. \"${GITHUB_TOKEN}\""},
    {"base_url", OptionType::url, "https://api.github.com", "API root (GitHub Enterprise: https://HOST/api/v3)"},
    {"per_page", OptionType::integer, "100", "items per page (1 to 100)"},
    {"max_pages", OptionType::integer, "5", "pages per endpoint per poll at most"},
    VIBE_POLL_OPTION_ROWS("10m", "2m", "1h"),
    {"timeout", OptionType::duration, "30s", "give up on a request after this long"},
};

namespace {

constexpr std::string_view k_watchable[] = {"issues", "pulls", "releases", "commits"};
constexpr std::size_t k_max_body = 32 * 1024 * 1024;
constexpr std::size_t k_max_text = 4000;  // an issue or release body kept in an event, in bytes

std::string str(const nlohmann::json& item, const char* key) {
  const auto it = item.find(key);
  return it != item.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::string login(const nlohmann::json& item, const char* key) {
  const auto it = item.find(key);
  return it != item.end() && it->is_object() ? str(*it, "login") : std::string{};
}

// Cut at a UTF-8 character boundary.
std::string clip(std::string text) {
  if (text.size() <= k_max_text) {
    return text;
  }
  std::size_t cut = k_max_text;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  text.resize(cut);
  return text + "…";
}

nlohmann::json copy(const nlohmann::json& item, std::initializer_list<const char*> keys) {
  nlohmann::json out = nlohmann::json::object();
  for (const char* key : keys) {
    if (const auto it = item.find(key); it != item.end()) {
      out[key] = *it;
    }
  }
  return out;
}

class GithubSource final : public Source {
public:
  explicit GithubSource(SourceSpec spec) : m_spec(std::move(spec)) {
    for (const auto& what : m_spec.options.json("watch")) {
      m_watch.push_back(what.get<std::string>());
    }
    m_base = m_spec.options.get("base_url");
    while (!m_base.empty() && m_base.back() == '/') {
      m_base.pop_back();
    }
  }

  std::vector<FetchRequest> requests(PollContext& context) const override {
    std::vector<FetchRequest> out;
    const auto per_page = m_spec.options.integer("per_page");
    const std::string repo = m_base + "/repos/" + m_spec.options.get("repo");
    for (const auto& what : m_watch) {
      std::string url;
      if (what == "issues") {
        url = fmt::format("{}/issues?state=all&sort=updated&direction=asc&per_page={}", repo, per_page);
        const std::string since = memo_string(context, "since");
        if (!since.empty()) {
          url += "&since=" + since;
        }
      } else if (what == "pulls") {
        url = fmt::format("{}/pulls?state=all&sort=updated&direction=desc&per_page={}", repo, per_page);
      } else {
        url = fmt::format("{}/{}?per_page={}", repo, what, per_page);
      }
      FetchRequest request = make_request(std::move(url), what, 1);
      if (context.memo.is_object() && context.memo.contains("etags") && context.memo["etags"].is_object()) {
        request.etag = context.memo["etags"].value(what, "");
      }
      out.push_back(std::move(request));
    }
    return out;
  }

  Result<Poll> parse(const FetchRequest& request, const FetchResponse& response, PollContext& context,
                     UnixMicros fetched_at) const override {
    auto document = http_common::parse_body(m_spec, request, response);
    if (!document) {
      return tl::unexpected(document.error());
    }
    if (!document->is_array()) {
      return fail(Errc::parse, fmt::format("source {}: {}: expected a JSON list from the GitHub API", m_spec.id,
                                           request.display_url));
    }
    if (!context.memo.is_object()) {
      context.memo = nlohmann::json::object();
    }
    if (request.page == 1 && !response.etag.empty()) {
      context.memo["etags"][request.tag] = response.etag;
    }
    Poll poll;
    std::string since = memo_string(context, "since");
    for (const auto& item : *document) {
      if (!item.is_object()) {
        poll.skipped.push_back(fmt::format("{}: an item is not an object", request.tag));
        continue;
      }
      auto event = to_event(request.tag, item, fetched_at);
      if (!event) {
        poll.skipped.push_back(fmt::format("{}: {}", request.tag, event.error().message));
        continue;
      }
      if (request.tag == "issues") {
        since = std::max(since, str(item, "updated_at"));
        if (item.contains("pull_request")) {
          continue;  // the issues endpoint lists pull requests too; `pulls` follows those
        }
      }
      poll.events.push_back(std::move(*event));
    }
    if (request.tag == "issues" && !since.empty()) {
      context.memo["since"] = since;
    }
    const std::string next = http_common::next_link(response.header("link"));
    if (!next.empty()) {
      if (request.page >= m_spec.options.integer("max_pages")) {
        poll.warnings.push_back(fmt::format("{}: stopped after max_pages ({}) pages", request.tag,
                                            m_spec.options.integer("max_pages")));
      } else {
        poll.more.push_back(make_request(next, request.tag, request.page + 1));
      }
    }
    return poll;
  }

private:
  static std::string memo_string(const PollContext& context, const char* key) {
    if (!context.memo.is_object()) {
      return {};
    }
    const auto it = context.memo.find(key);
    return it != context.memo.end() && it->is_string() ? it->get<std::string>() : std::string{};
  }

  FetchRequest make_request(std::string url, const std::string& tag, int page) const {
    FetchRequest request;
    request.display_url = url;  // no secret in GitHub URLs: the token travels in a header
    request.url = std::move(url);
    request.accept = "application/vnd.github+json";
    request.headers.emplace_back("X-GitHub-Api-Version", "2022-11-28");
    if (!m_spec.options.get("token").empty()) {
      request.headers.emplace_back("Authorization", "Bearer " + m_spec.options.get("token"));
    }
    request.timeout = m_spec.options.duration("timeout");
    request.max_bytes = k_max_body;
    request.tag = tag;
    request.page = page;
    return request;
  }

  Result<Event> to_event(const std::string& what, const nlohmann::json& item, UnixMicros fetched_at) const {
    Event event;
    event.stream_id = m_spec.stream_id;
    event.source_id = m_spec.id;
    nlohmann::json content;
    std::string when;
    if (what == "issues" || what == "pulls") {
      const bool pull = what == "pulls" || item.contains("pull_request");
      event.type = pull ? "github_pull" : "github_issue";
      if (!item.contains("number") || !item["number"].is_number_integer()) {
        return fail(Errc::parse, "an item without a number");
      }
      when = str(item, "updated_at");
      // An edit is a new event: the key includes updated_at.
      event.dedup_key = fmt::format("{}:{}:{}", pull ? "pull" : "issue", item["number"].get<std::int64_t>(), when);
      content = copy(item, {"number", "title", "state", "created_at", "updated_at", "closed_at", "comments",
                            "html_url", "merged_at", "draft"});
      content["user"] = login(item, "user");
      content["body"] = clip(str(item, "body"));
      nlohmann::json labels = nlohmann::json::array();
      if (item.contains("labels") && item["labels"].is_array()) {
        for (const auto& label : item["labels"]) {
          if (label.is_object() && label.contains("name")) {
            labels.push_back(label["name"]);
          }
        }
      }
      content["labels"] = labels;
    } else if (what == "releases") {
      event.type = "github_release";
      if (!item.contains("id")) {
        return fail(Errc::parse, "a release without an id");
      }
      when = str(item, "published_at");
      if (when.empty()) {
        when = str(item, "created_at");
      }
      event.dedup_key = "release:" + http_common::scalar_text(item["id"]);
      content = copy(item, {"id", "tag_name", "name", "draft", "prerelease", "created_at", "published_at",
                            "html_url"});
      content["author"] = login(item, "author");
      content["body"] = clip(str(item, "body"));
      content["title"] = str(item, "name").empty() ? str(item, "tag_name") : str(item, "name");
    } else {
      event.type = "github_commit";
      const std::string sha = str(item, "sha");
      if (sha.empty()) {
        return fail(Errc::parse, "a commit without a sha");
      }
      event.dedup_key = "commit:" + sha;
      const auto commit = item.find("commit");
      nlohmann::json author;
      if (commit != item.end() && commit->is_object()) {
        content["message"] = clip(str(*commit, "message"));
        if (const auto a = commit->find("author"); a != commit->end() && a->is_object()) {
          author = *a;
          when = str(*a, "date");
        }
      }
      content["sha"] = sha;
      content["html_url"] = str(item, "html_url");
      content["author"] = author.is_object() ? str(author, "name") : std::string{};
      content["login"] = login(item, "author");
      content["date"] = when;
      const std::string message = content.value("message", "");
      content["title"] = message.substr(0, message.find('\n'));  // the subject line
    }
    event.url = str(item, "html_url");
    event.occurred_at = fetched_at;
    if (!when.empty()) {
      if (auto t = parse_rfc3339(when)) {
        event.occurred_at = *t;
      }
    }
    content["repo"] = m_spec.options.get("repo");
    event.content = content.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return event;
  }

  SourceSpec m_spec;
  std::vector<std::string> m_watch;
  std::string m_base;
};

}  // namespace

std::optional<std::string> check(const OptionValues& options) {
  const std::string& repo = options.get("repo");
  const auto slash = repo.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == repo.size() || repo.find('/', slash + 1) != std::string::npos ||
      repo.find_first_of(" ?#") != std::string::npos) {
    return fmt::format("repo: '{}' is not owner/name", repo);
  }
  const auto watch = options.json("watch");
  if (watch.empty()) {
    return "watch: name at least one of issues, pulls, releases, commits";
  }
  for (const auto& what : watch) {
    const std::string name = what.get<std::string>();
    if (std::find(std::begin(k_watchable), std::end(k_watchable), name) == std::end(k_watchable)) {
      return fmt::format("watch: '{}' is not one of issues, pulls, releases, commits", name);
    }
  }
  const auto per_page = options.integer("per_page");
  if (per_page < 1 || per_page > 100) {
    return "per_page: must be 1 to 100";
  }
  if (options.integer("max_pages") < 1) {
    return "max_pages: must be at least 1";
  }
  if (options.get("base_url").rfind("file:", 0) == 0) {
    return "base_url: must be http:// or https://";
  }
  return std::nullopt;
}

std::unique_ptr<Source> make(const SourceSpec& spec) {
  return std::make_unique<GithubSource>(spec);
}

}  // namespace vibe::core::github
