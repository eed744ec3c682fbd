// Sugarglass serial frame receiver: parser and watchdog, plain C++ with no Arduino dependency,
// so the same code runs on the board and in the host test (firmware/host_test).
//
// Frame, little-endian:  0xA5 | length u16 = 2n | n x level u16 (0..3000) | crc u16 | 0x5A
// crc is CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over the length and level bytes.
//
// The parser is byte for byte Python's decode_frames (src/sugarglass/outputs/serial_frame.py)
// with max_levels = CAPACITY: it keeps the bytes of the frame it is reading, and when a frame
// turns out bad (length, CRC or end byte) it drops only the 0xA5 it began at and reads the kept
// bytes again, so a good frame that starts inside a bad one is still found.
//
// The watchdog switches every element to off_level once watchdog_ms pass without a good
// frame; the next good frame switches them back on. The host repeats its last frame as a
// heartbeat (every 500 ms by default), so silence means a dead host or a pulled cable.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace sugarglass {

const uint8_t START = 0xA5;
const uint8_t END = 0x5A;
const uint16_t FULL = 3000;
const uint16_t MAX_LEVELS = 4096;  // what the host may send at most

inline uint16_t crc16_ccitt_false(const uint8_t *data, size_t n) {
  uint16_t crc = 0xFFFF;
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint16_t)data[i] << 8;
    for (uint8_t b = 0; b < 8; b++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
  }
  return crc;
}

struct Counters {
  uint32_t frames;          // good frames taken
  uint32_t crc_errors;      // a frame whose CRC did not match
  uint32_t end_errors;      // right CRC, but no 0x5A after it
  uint32_t length_errors;   // zero, odd, or more than CAPACITY levels
  uint32_t resyncs;         // times the parser dropped bytes to find the next 0xA5
  uint32_t skipped;         // bytes dropped that way
  uint32_t watchdog_trips;  // times every element was switched off for silence
};

// CAPACITY: the most levels a frame may hold for this receiver (the grid's element count on a
// board; MAX_LEVELS to take everything the host can send).
template <uint16_t CAPACITY>
struct Receiver {
  uint16_t levels[CAPACITY];  // what the elements are to be driven at now
  uint16_t count;             // levels in the last good frame (0 before the first)
  bool live;                  // false before the first frame and after a watchdog trip
  bool changed;               // set when levels change; the sketch clears it after driving
  Counters counters;
  uint32_t watchdog_ms;
  uint16_t off_level;         // 0, or the midpoint for elements driven both ways
  // Called with each good frame's levels. One byte can complete several frames (when a bad
  // frame's kept bytes are read again), and the board drives only the last; a test sees all.
  void (*on_frame)(const uint16_t *levels, uint16_t count, void *context);
  void *context;

  Receiver(uint32_t watchdog_ms_ = 2000, uint16_t off_level_ = 0)
      : count(0), live(false), changed(true), counters(), watchdog_ms(watchdog_ms_), off_level(off_level_),
        on_frame(0), context(0), n_(0), last_ms_(0) {
    for (uint16_t i = 0; i < CAPACITY; i++) levels[i] = off_level;
  }

  // One byte from the line at time now_ms; returns how many good frames it completed.
  uint16_t feed(uint8_t byte, uint32_t now_ms) {
    buf_[n_++] = byte;
    uint16_t took = 0;
    size_t used = 0;
    while (used < n_) {
      const uint8_t *data = buf_ + used;
      size_t left = n_ - used;
      if (data[0] != START) {
        size_t skip = 1;
        while (skip < left && data[skip] != START) skip++;
        counters.resyncs++;
        counters.skipped += skip;
        used += skip;
        continue;
      }
      if (left < 3) break;
      uint16_t length = data[1] | (uint16_t)(data[2] << 8);
      if (length == 0 || (length & 1) || length > 2u * CAPACITY) {
        counters.length_errors++;
        used += 1;
        continue;
      }
      size_t total = (size_t)length + 6;
      if (left < total) break;
      uint16_t crc = data[3 + length] | (uint16_t)(data[4 + length] << 8);
      if (crc != crc16_ccitt_false(data + 1, 2 + (size_t)length)) {
        counters.crc_errors++;
        used += 1;
        continue;
      }
      if (data[5 + length] != END) {
        counters.end_errors++;
        used += 1;
        continue;
      }
      take(data + 3, length / 2, now_ms);
      took++;
      used += total;
    }
    for (size_t i = used; i < n_; i++) buf_[i - used] = buf_[i];
    n_ -= used;
    return took;
  }

  // Call as often as the loop runs; true when the watchdog has just switched everything off.
  // Unsigned arithmetic keeps it right when millis() wraps after 49 days.
  bool tick(uint32_t now_ms) {
    if (!live || (uint32_t)(now_ms - last_ms_) < watchdog_ms) return false;
    live = false;
    for (uint16_t i = 0; i < CAPACITY; i++) levels[i] = off_level;
    changed = true;
    counters.watchdog_trips++;
    return true;
  }

  uint32_t last_frame_ms() const { return last_ms_; }

 private:
  uint8_t buf_[2u * CAPACITY + 6];  // the frame being read, from its 0xA5
  size_t n_;
  uint32_t last_ms_;

  void take(const uint8_t *body, uint16_t n, uint32_t now_ms) {
    for (uint16_t i = 0; i < CAPACITY; i++) levels[i] = i < n ? (uint16_t)(body[2 * i] | (body[2 * i + 1] << 8)) : off_level;
    count = n;
    live = true;
    changed = true;
    last_ms_ = now_ms;
    counters.frames++;
    if (on_frame) on_frame(levels, count, context);
  }
};

}  // namespace sugarglass
