#include "policy/manifest/reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <unordered_map>

#include "policy/kinds/kinds.h"
#include "policy/manifest/streams.h"

namespace palisade::policy {
namespace {

namespace fs = std::filesystem;

template <class T>
void append(std::vector<T>& to, std::vector<T>&& from) {
  if (to.empty()) {
    to = std::move(from);
    return;
  }
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

std::string objectName(const ObjectMeta& meta) {
  return meta.namespace_.empty() ? meta.name : meta.namespace_ + "/" + meta.name;
}

std::string where(const SourceLocation& loc) {
  return loc.line > 0 ? loc.file + ":" + std::to_string(loc.line) : loc.file;
}

/// Drops later objects with the same namespace/name as an earlier one, as the
/// API server would refuse to create them.
template <class T>
void dropDuplicates(std::vector<T>& objects, std::string_view kind, Diagnostics& errors) {
  std::unordered_map<std::string, SourceLocation> first;
  first.reserve(objects.size());
  std::erase_if(objects, [&](const T& obj) {
    const std::string name = objectName(obj.meta);
    auto [it, inserted] = first.try_emplace(name, obj.meta.location);
    if (inserted) return false;
    Diagnostic d;
    d.location = obj.meta.location;
    d.kind = kind;
    d.object = name;
    d.message = "duplicate " + std::string(kind) + " " + name + " (first defined at " +
                where(it->second) + ")";
    errors.push_back(std::move(d));
    return true;
  });
}

void dropAllDuplicates(ManifestSet& set) {
  Kinds::forEach([&]<class K>() { dropDuplicates(set.*K::kObjects, K::kInfo.name, set.errors); });
}

bool hasManifestExtension(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

ManifestFormat detectFormat(std::string_view text, std::string_view filename) {
  if (filename.ends_with(".json")) return ManifestFormat::Json;
  if (filename.ends_with(".yaml") || filename.ends_with(".yml")) return ManifestFormat::Yaml;
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte order mark
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (text[first] == '{' || text[first] == '[')) {
    return ManifestFormat::Json;
  }
  return ManifestFormat::Yaml;
}

void pathError(const std::string& path, std::string message, Diagnostics& errors) {
  Diagnostic d;
  d.location.file = path;
  d.message = std::move(message);
  errors.push_back(std::move(d));
}

void readFileInto(const std::string& path, ManifestSet& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    pathError(path, std::string("cannot open: ") + std::strerror(errno), out.errors);
    return;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    pathError(path, "read error", out.errors);
    return;
  }
  out.merge(readManifestText(buf.str(), path));
}

}  // namespace

void ManifestSet::merge(ManifestSet&& other) {
  Kinds::forEach([&]<class K>() { append(this->*K::kObjects, std::move(other.*K::kObjects)); });
  append(errors, std::move(other.errors));
  append(notes, std::move(other.notes));
}

ManifestSet readManifestText(std::string_view text, std::string_view filename,
                             ManifestFormat format) {
  ManifestSet out;
  const std::string file(filename);
  if (format == ManifestFormat::Auto) format = detectFormat(text, filename);
  if (format == ManifestFormat::Json) {
    manifest::readJsonStream(text, file, out);
  } else {
    manifest::readYamlStream(text, file, out);
  }
  dropAllDuplicates(out);
  return out;
}

std::vector<std::string> listManifestFiles(const std::string& dir, Diagnostics& errors) {
  std::vector<std::string> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec) && hasManifestExtension(it->path())) {
      files.push_back(it->path().string());
    }
  }
  if (ec) pathError(dir, "cannot list directory: " + ec.message(), errors);
  std::sort(files.begin(), files.end());
  return files;
}

ManifestSet readManifestFile(const std::string& path) {
  ManifestSet out;
  readFileInto(path, out);
  return out;
}

void dropDuplicateObjects(ManifestSet& set) { dropAllDuplicates(set); }

ManifestSet readManifests(const std::vector<std::string>& paths) {
  ManifestSet out;
  for (const std::string& path : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
      pathError(path, "no such file or directory", out.errors);
      continue;
    }
    if (!fs::is_directory(st)) {
      readFileInto(path, out);
      continue;
    }
    const std::vector<std::string> files = listManifestFiles(path, out.errors);
    for (const std::string& file : files) readFileInto(file, out);
  }
  dropAllDuplicates(out);
  return out;
}

}  // namespace palisade::policy
