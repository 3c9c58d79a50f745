#include "proto/base/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace palisade {

Logger& logger() {
  // The one mutable static local: the process-wide logger.
  static Logger instance;  // NOLINT(readability-identifier-naming): not a constant
  return instance;
}

std::optional<LogLevel> parseLogLevel(std::string_view s) {
  if (s == "debug") return LogLevel::Debug;
  if (s == "info") return LogLevel::Info;
  if (s == "warn" || s == "warning") return LogLevel::Warn;
  if (s == "error") return LogLevel::Error;
  return std::nullopt;
}

void Logger::configure(LogLevel level, LogFormat format) {
  std::lock_guard lock(mu_);
  level_ = level;
  format_ = format;
}

void Logger::captureTo(std::string* sink) {
  std::lock_guard lock(mu_);
  sink_ = sink;
}

namespace {

const char* levelName(LogLevel l) {
  switch (l) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
  }
  return "info";
}

void appendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(char(c));
        }
    }
  }
  out.push_back('"');
}

// Text values are quoted only when they would be ambiguous (logfmt).
void appendTextValue(std::string& out, std::string_view s) {
  bool quote = s.empty();
  for (char c : s)
    if (c == ' ' || c == '"' || c == '=' || c == '\n') quote = true;
  if (quote)
    appendJsonString(out, s);
  else
    out.append(s);
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[32];
  const size_t n = std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03dZ", int(ms.count()));
  return std::string(date, n) + millis;
}

}  // namespace

void Logger::log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields) {
  if (!enabled(level)) return;
  std::string line;
  line.reserve(128);
  if (format_ == LogFormat::Json) {
    line += R"({"ts":")" + timestamp() + R"(","level":")" + levelName(level) + R"(","msg":)";
    appendJsonString(line, msg);
    for (const auto& f : fields) {
      line.push_back(',');
      appendJsonString(line, f.key);
      line.push_back(':');
      appendJsonString(line, f.value);
    }
    line += "}\n";
  } else {
    line += "ts=" + timestamp() + " level=" + levelName(level) + " msg=";
    appendJsonString(line, msg);
    for (const auto& f : fields) {
      line.push_back(' ');
      line.append(f.key);
      line.push_back('=');
      appendTextValue(line, f.value);
    }
    line.push_back('\n');
  }
  std::lock_guard lock(mu_);
  if (sink_)
    sink_->append(line);
  else
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace palisade
