// Delimited text tables: CSV and TSV as RFC 4180 reads them (a header row; fields optionally quoted
// with "; a quote inside a quoted field doubled; quoted fields may span lines; CRLF or LF line ends).
// A blank line is skipped; a line holding only "" is a row of one empty field (Python's csv module
// reads both so), so the rows of a one-column file stay in line with its lines.
// A malformed row (an unterminated quote, text after a closing quote, a wrong number of fields) is an
// ft::Error naming the file and the line, or, under skip_malformed, a counted skip.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ft::io {

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> row_lines;  // 1-based line where each row starts
  int64_t skipped = 0;             // malformed rows skipped (skip_malformed only)

  // Index of a column; throws ft::Error listing the columns that exist.
  size_t column(const std::string& name, const std::string& where) const;
};

struct DelimitedOptions {
  char delimiter = ',';
  bool skip_malformed = false;
  int header_rows = 1;  // rows before the data; the first names the columns (Orange .tab files have 3)
};

Table parse_delimited(std::string_view text, const std::string& name, const DelimitedOptions& opts = {});
Table read_delimited(const std::string& path, const DelimitedOptions& opts = {});

}  // namespace ft::io
