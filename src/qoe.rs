//! Quality of Experience: the seed's `QoeCalculator` (the "kino score"),
//! reproduced to the letter. The emitter's per-view figures, which use the
//! same score formula ([`kino_score`]), live in [`crate::view`].

/// The seed's six QoE figures.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct QoeBreakdown {
    /// 0..100, the seed's MOS-like score.
    pub score: f64,
    /// Startup delay, seconds.
    pub initial_buffer_time: f64,
    /// Number of rebuffers.
    pub rebuffer_count: u32,
    /// Total rebuffering, seconds.
    pub rebuffer_duration: f64,
    /// Number of quality switches.
    pub quality_switches: u32,
    /// Time-weighted average bitrate, bits per second (truncated).
    pub average_bitrate: u64,
}

/// The seed's calculator, fed by hand. Same arithmetic as the seed.
#[derive(Debug, Clone, Default)]
pub struct QoeCalculator {
    initial_buffer_time: f64,
    rebuffer_count: u32,
    rebuffer_duration: f64,
    quality_switches: Vec<(f64, u64)>,
    bitrate_samples: Vec<(f64, u64)>,
}

impl QoeCalculator {
    /// An empty calculator (score 100).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the startup delay, seconds (the last value wins).
    pub fn record_initial_buffer(&mut self, duration: f64) {
        self.initial_buffer_time = duration;
    }

    /// Adds one rebuffer of `duration` seconds.
    pub fn record_rebuffer(&mut self, duration: f64) {
        self.rebuffer_count = self.rebuffer_count.saturating_add(1);
        self.rebuffer_duration += duration;
    }

    /// Adds one quality switch.
    pub fn record_quality_switch(&mut self, timestamp: f64, bitrate: u64) {
        self.quality_switches.push((timestamp, bitrate));
    }

    /// Adds `duration` seconds played at `bitrate`.
    pub fn record_bitrate(&mut self, duration: f64, bitrate: u64) {
        self.bitrate_samples.push((duration, bitrate));
    }

    /// The score, 0..100.
    pub fn calculate_qoe(&self) -> f64 {
        kino_score(
            self.initial_buffer_time,
            self.rebuffer_count,
            self.rebuffer_duration,
            self.quality_switches.len() as u32,
            self.average_bitrate(),
        )
    }

    /// Time-weighted average bitrate, truncated; 0 without samples or time.
    pub fn average_bitrate(&self) -> u64 {
        if self.bitrate_samples.is_empty() {
            return 0;
        }
        let total_duration: f64 = self.bitrate_samples.iter().map(|(d, _)| d).sum();
        if total_duration == 0.0 {
            return 0;
        }
        let weighted_sum: f64 = self
            .bitrate_samples
            .iter()
            .map(|(d, b)| d * *b as f64)
            .sum();
        (weighted_sum / total_duration) as u64
    }

    /// All six figures.
    pub fn breakdown(&self) -> QoeBreakdown {
        QoeBreakdown {
            score: self.calculate_qoe(),
            initial_buffer_time: self.initial_buffer_time,
            rebuffer_count: self.rebuffer_count,
            rebuffer_duration: self.rebuffer_duration,
            quality_switches: self.quality_switches.len() as u32,
            average_bitrate: self.average_bitrate(),
        }
    }
}

/// The seed's score formula over its inputs, clamped to 0..100. NaN inputs
/// (which validation keeps out) would give NaN.
pub fn kino_score(
    initial_buffer_time: f64,
    rebuffer_count: u32,
    rebuffer_duration: f64,
    quality_switches: u32,
    average_bitrate: u64,
) -> f64 {
    let mut score = 100.0;
    if initial_buffer_time > 2.0 {
        score -= (initial_buffer_time - 2.0) * 5.0;
    }
    score -= f64::from(rebuffer_count) * 10.0;
    score -= rebuffer_duration * 5.0;
    score -= f64::from(quality_switches) * 2.0;
    if average_bitrate > 5_000_000 {
        score += 5.0;
    } else if average_bitrate > 2_000_000 {
        score += 2.0;
    }
    score.clamp(0.0, 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_perfect_is_100() {
        assert_eq!(QoeCalculator::new().calculate_qoe(), 100.0);
    }

    #[test]
    fn seed_two_rebuffers_is_65() {
        let mut calc = QoeCalculator::new();
        calc.record_rebuffer(1.0);
        calc.record_rebuffer(2.0);
        assert!((calc.calculate_qoe() - 65.0).abs() < 0.1);
    }

    #[test]
    fn seed_slow_start_is_85() {
        let mut calc = QoeCalculator::new();
        calc.record_initial_buffer(5.0);
        assert!((calc.calculate_qoe() - 85.0).abs() < 0.1);
    }

    #[test]
    fn score_clamps_at_zero_and_hundred() {
        let mut calc = QoeCalculator::new();
        for _ in 0..20 {
            calc.record_rebuffer(10.0);
        }
        assert_eq!(calc.calculate_qoe(), 0.0);
        let mut calc = QoeCalculator::new();
        calc.record_bitrate(10.0, 8_000_000);
        assert_eq!(calc.calculate_qoe(), 100.0, "bonus cannot exceed 100");
    }

    #[test]
    fn startup_threshold_is_exclusive_at_two_seconds() {
        let mut calc = QoeCalculator::new();
        calc.record_initial_buffer(2.0);
        assert_eq!(calc.calculate_qoe(), 100.0);
        calc.record_initial_buffer(2.5);
        assert_eq!(calc.calculate_qoe(), 97.5);
    }

    #[test]
    fn bitrate_bonus_thresholds_are_exclusive() {
        let score_at = |bitrate| {
            let mut calc = QoeCalculator::new();
            calc.record_rebuffer(0.0); // 90 before the bonus
            calc.record_bitrate(1.0, bitrate);
            calc.calculate_qoe()
        };
        assert_eq!(score_at(2_000_000), 90.0);
        assert_eq!(score_at(2_000_001), 92.0);
        assert_eq!(score_at(5_000_000), 92.0);
        assert_eq!(score_at(5_000_001), 95.0);
    }

    #[test]
    fn average_bitrate_is_time_weighted_and_truncated() {
        let mut calc = QoeCalculator::new();
        assert_eq!(calc.average_bitrate(), 0);
        calc.record_bitrate(0.0, 1_000_000);
        assert_eq!(calc.average_bitrate(), 0, "zero total duration gives 0");
        calc.record_bitrate(1.0, 1_000_000);
        calc.record_bitrate(2.0, 2_000_001);
        // (1e6 + 4_000_002) / 3 = 1_666_667.33 → 1_666_667
        assert_eq!(calc.average_bitrate(), 1_666_667);
    }

    #[test]
    fn switches_cost_two_points_each() {
        let mut calc = QoeCalculator::new();
        calc.record_quality_switch(1.0, 1);
        calc.record_quality_switch(2.0, 2);
        let b = calc.breakdown();
        assert_eq!(b.quality_switches, 2);
        assert_eq!(b.score, 96.0);
    }
}
