#pragma once
// Structured logs: one line per record on stderr, text (`level=info msg="..."
// key=value`) or JSON, with a level threshold. Thread-safe; every layer of the
// agent logs through the process-wide logger().
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace palisade {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3 };
enum class LogFormat { Text, Json };

struct LogField {
  std::string_view key;
  std::string value;
  LogField(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  template <typename N, typename = std::enable_if_t<std::is_arithmetic_v<N>>>
  LogField(std::string_view k, N v) : key(k), value(std::to_string(v)) {}
};

class Logger {
 public:
  void configure(LogLevel level, LogFormat format);
  bool enabled(LogLevel level) const { return level >= level_; }
  void log(LogLevel level, std::string_view msg, std::initializer_list<LogField> fields = {});
  /// For tests: capture into a string instead of stderr (nullptr = stderr).
  void captureTo(std::string* sink);

 private:
  std::mutex mu_;
  LogLevel level_ = LogLevel::Info;
  LogFormat format_ = LogFormat::Text;
  std::string* sink_ = nullptr;
};

Logger& logger();
std::optional<LogLevel> parseLogLevel(std::string_view s);

inline void logDebug(std::string_view m, std::initializer_list<LogField> f = {}) {
  if (logger().enabled(LogLevel::Debug)) logger().log(LogLevel::Debug, m, f);
}
inline void logInfo(std::string_view m, std::initializer_list<LogField> f = {}) {
  logger().log(LogLevel::Info, m, f);
}
inline void logWarn(std::string_view m, std::initializer_list<LogField> f = {}) {
  logger().log(LogLevel::Warn, m, f);
}
inline void logError(std::string_view m, std::initializer_list<LogField> f = {}) {
  logger().log(LogLevel::Error, m, f);
}

}  // namespace palisade
