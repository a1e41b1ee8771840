#include "io/csv.h"

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace ft::io {
namespace {

// Reads one record starting at `pos`; returns false at the end of the text. On a malformed record
// sets `error` and moves `pos` past the record's physical line so parsing can resume.
// `quoted` tells whether the record had a quoted field: a line of just "" is a row holding one empty
// field (as Python's csv module reads it), not a blank line.
bool next_record(std::string_view text, size_t& pos, int64_t& line, char delim, std::vector<std::string>& fields,
                 std::string& error, bool& any_quote) {
  fields.clear();
  error.clear();
  any_quote = false;
  if (pos >= text.size()) return false;
  std::string field;
  bool quoted = false, after_quote = false;
  const int64_t start_line = line;
  while (pos < text.size()) {
    const char c = text[pos++];
    if (quoted) {
      if (c == '"') {
        if (pos < text.size() && text[pos] == '"') {
          field += '"';
          ++pos;
        } else {
          quoted = false;
          after_quote = true;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == delim) {
      fields.push_back(std::move(field));
      field.clear();
      after_quote = false;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
      ++line;
      fields.push_back(std::move(field));
      return true;
    } else if (c == '"' && field.empty() && !after_quote) {
      quoted = true;
      any_quote = true;
    } else if (after_quote) {
      error = cat("text after a closing quote in field ", fields.size() + 1);
      while (pos < text.size() && text[pos] != '\n') ++pos;
      if (pos < text.size()) ++pos;
      ++line;
      return true;
    } else {
      field += c;
    }
  }
  if (quoted) {
    error = cat("quoted field ", fields.size() + 1, " opened on line ", start_line, " is never closed");
    return true;
  }
  fields.push_back(std::move(field));
  return true;
}

}  // namespace

size_t Table::column(const std::string& name, const std::string& where) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return i;
  throw Error(cat(where, ": no column '", clip(name, 80), "' (columns: ", name_list(columns, 20), ")"));
}

Table parse_delimited(std::string_view text, const std::string& name, const DelimitedOptions& opts) {
  Table t;
  size_t pos = 0;
  int64_t line = 1;
  std::vector<std::string> fields;
  std::string error;
  bool any_quote = false;
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // UTF-8 byte-order mark
  for (int h = 0; h < opts.header_rows; ++h) {
    const int64_t at = line;
    FT_CHECK(next_record(text, pos, line, opts.delimiter, fields, error, any_quote), name, ": empty file (no header row)");
    FT_CHECK(error.empty(), name, ":", at, ": malformed header: ", clip(error));
    if (h == 0) t.columns = fields;
  }
  while (true) {
    const int64_t at = line;
    if (!next_record(text, pos, line, opts.delimiter, fields, error, any_quote)) break;
    if (error.empty() && fields.size() == 1 && fields[0].empty() && !any_quote) continue;  // a blank line
    if (error.empty() && fields.size() != t.columns.size())
      error = cat(fields.size(), " fields where the header has ", t.columns.size());
    if (!error.empty()) {
      FT_CHECK(opts.skip_malformed, name, ":", at, ": malformed row: ", error);
      t.skipped++;
      continue;
    }
    t.rows.push_back(fields);
    t.row_lines.push_back(at);
  }
  return t;
}

Table read_delimited(const std::string& path, const DelimitedOptions& opts) {
  std::ifstream f(path, std::ios::binary);
  FT_CHECK(f.good(), path, ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_delimited(ss.str(), path, opts);
}

}  // namespace ft::io
