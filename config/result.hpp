#pragma once
// A small expected-like result for operations that can fail at run time (attach, spawn, parse).
// [[nodiscard]]: a failure cannot be dropped by accident; a caller that means to ignore one says so with
// `(void)` and a comment saying why.
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace rebound {

struct Error {
  std::string message;
  int error_number = 0;  // the errno behind it, when a system call failed; 0 otherwise
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}
  Result(Error error) : data_(std::move(error)) {}
  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(data_); }
  const T& value() const { return std::get<0>(data_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<1>(data_); }

 private:
  std::variant<T, Error> data_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}
  bool ok() const { return !error_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

inline Error fail(std::string message) { return Error{std::move(message)}; }
// A failed system call: "MESSAGE: strerror(errno)", keeping errno. Call it before anything can change errno.
inline Error fail_errno(std::string message, int error_number = errno) {
  return Error{std::move(message) + ": " + std::strerror(error_number), error_number};
}

}  // namespace rebound
