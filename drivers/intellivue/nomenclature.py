"""IntelliVue nomenclature codes we use, and their mapping to our vocabulary (core.params).

Codes are 16-bit terms within a partition (IVH "TYPE"). Physio ids below 0xE000 equal the MDC
terms; 0xE000 and above are Philips-private (PROTOCOLS.md §3). Each constant names its source:
IVH (intellivue.h, the Data Export Interface Programming Guide transcribed), VSC (VSCaptureMP
Class2.cs / Class3.cs), OICE (OpenICE mdpnp intellivue).
"""

from __future__ import annotations

from typing import Final

# -- session layer (first user-data byte) ---------------------------------------------------
CN_SPDU_SI: Final = 0x0D  # association request (IVH SessionHeader, VSC)
AC_SPDU_SI: Final = 0x0E  # association accepted (IVH, VSC)
RF_SPDU_SI: Final = 0x0C  # association refused (IVH, VSC)
FN_SPDU_SI: Final = 0x09  # release request (IVH, VSC)
DN_SPDU_SI: Final = 0x0A  # release response (IVH, VSC)
AB_SPDU_SI: Final = 0x19  # abort (IVH, VSC)
DATA_EXPORT_SI: Final = 0xE1  # first byte of a data-export message (IVH SPpdu.session_id)

SESSION_ID: Final = 0xE100  # SPpdu.session_id, fixed (IVH)
P_CONTEXT_ID: Final = 0x0002  # SPpdu.p_context_id with the standard association (IVH, VSC)

# -- remote operations ------------------------------------------------------------------------
ROIV_APDU: Final = 1  # invoke (IVH ROapdus)
RORS_APDU: Final = 2  # result (IVH)
ROER_APDU: Final = 3  # error (IVH)
ROLRS_APDU: Final = 5  # linked result (IVH)
RORLS_FIRST: Final = 1  # linked result: first part (IVH RorlsId)
RORLS_NOT_FIRST_NOT_LAST: Final = 2  # middle part (IVH)
RORLS_LAST: Final = 3  # last linked part; one RORS follows (IVH)

CMD_EVENT_REPORT: Final = 0  # (IVH CMDType)
CMD_CONFIRMED_EVENT_REPORT: Final = 1  # (IVH)
CMD_GET: Final = 3  # (IVH)
CMD_SET: Final = 4  # (IVH)
CMD_CONFIRMED_SET: Final = 5  # (IVH)
CMD_CONFIRMED_ACTION: Final = 7  # (IVH)

NOM_NOTI_MDS_CREAT: Final = 0x0D06  # MDS Create event, 3334 (IVH, VSC)
NOM_ACT_POLL_MDIB_DATA: Final = 0x0C16  # single poll action, 3094 (IVH, VSC)
NOM_ACT_POLL_MDIB_DATA_EXT: Final = 0xF13B  # extended poll action, 61755 (IVH, VSC)

# -- object classes (partition NOM_PART_OBJ) ------------------------------------------------
NOM_PART_OBJ: Final = 1  # (IVH, VSC PartitionIDs)
NOM_MOC_VMO_METRIC_NU: Final = 6  # numerics (IVH, VSC PollTypes)
NOM_MOC_VMO_METRIC_SA_RT: Final = 9  # waves (IVH, VSC)
NOM_MOC_VMS_MDS: Final = 0x21  # the MDS, target of poll actions (IVH, VSC)
NOM_MOC_VMO_AL_MON: Final = 0x36  # alert monitor (IVH, VSC)

# -- attribute groups and attributes ----------------------------------------------------------
NOM_ATTR_GRP_ALL: Final = 0x0000  # all attribute groups (VSC ext_poll_request_msg)
NOM_ATTR_GRP_AL_MON: Final = 0x0801  # alert monitor group (VSC ext_poll_request_alert_msg)
NOM_ATTR_AL_MON_P_AL_LIST: Final = 0x0902  # patient alarm list (IVH, VSC)
NOM_ATTR_AL_MON_T_AL_LIST: Final = 0x0904  # technical alarm list (IVH, VSC)
NOM_ATTR_ID_LABEL: Final = 0x0924  # TextId of a metric's label (IVH, OICE, VSC)
NOM_ATTR_ID_LABEL_STRING: Final = 0x0927  # the label as a String, e.g. "ABP" (IVH, OICE, VSC)
NOM_ATTR_ID_MODEL: Final = 0x0928  # SystemModel: manufacturer, model (IVH)
NOM_ATTR_ID_PROD_SPECN: Final = 0x092D  # ProductionSpec list, holds the serial number (IVH, OICE)
PROD_SPEC_SERIAL_NUMBER: Final = 1  # ProdSpecEntry spec_type (IVH)
NOM_ATTR_NU_CMPD_VAL_OBS: Final = 0x094B  # compound numeric value (IVH, VSC)
NOM_ATTR_NU_VAL_OBS: Final = 0x0950  # numeric value (IVH, VSC)
NOM_ATTR_SYS_ID: Final = 0x0984  # system id, 6 bytes (IVH, OICE)
NOM_ATTR_TIME_ABS: Final = 0x0987  # AbsoluteTime, the monitor's clock (IVH, VSC)
NOM_ATTR_TIME_REL: Final = 0x098F  # RelativeTime, 1/8000 s ticks (IVH, VSC)
NOM_ATTR_POLL_RTSA_PRIO_LIST: Final = 0xF239  # wave priority list, TextIdList (IVH)
NOM_ATTR_POLL_NU_PRIO_LIST: Final = 0xF23A  # numeric priority list, TextIdList (IVH)
SHORT_POLL_PERIOD_TICKS: Final = 26400  # 3.3 s: below it the monitor enforces silence (IVH)
NOM_ATTR_TIME_PD_POLL: Final = 0xF13E  # periodic poll duration (VSC ext poll messages)
NOM_POLL_PROFILE_SUPPORT: Final = 0x0001  # application profile id (IVH, VSC aarq)
NOM_ATTR_POLL_PROFILE_EXT: Final = 0xF001  # poll profile extension package (IVH, VSC aarq)

GEN_ALMON_INFO: Final = 0x0201  # AlMonGenInfo appended to an alarm entry (IVH)
STR_ALMON_INFO: Final = 0x0204  # StrAlMonInfo (with UTF-16 text) appended (IVH)

# -- measurement state bits (IVH MeasurementState) ---------------------------------------------
MS_INVALID: Final = 0x8000  # (IVH, VSC)
MS_QUESTIONABLE: Final = 0x4000  # (IVH, VSC)
MS_UNAVAILABLE: Final = 0x2000  # (IVH, VSC)
MS_TEST_DATA: Final = 0x0800  # generated test signal, not the patient (IVH)
MS_DEMO_DATA: Final = 0x0400  # demonstration mode, not the patient (IVH)

# -- alert types (IVH AlertType) -----------------------------------------------------------------
LOW_PRI_T_AL: Final = 0x0001  # (IVH)
MED_PRI_T_AL: Final = 0x0002  # (IVH)
HI_PRI_T_AL: Final = 0x0004  # (IVH)
LOW_PRI_P_AL: Final = 0x0100  # (IVH)
MED_PRI_P_AL: Final = 0x0200  # (IVH)
HI_PRI_P_AL: Final = 0x0400  # (IVH)

ALERT_PRIORITY: Final[dict[int, str]] = {
    LOW_PRI_T_AL: "low",
    MED_PRI_T_AL: "medium",
    HI_PRI_T_AL: "high",
    LOW_PRI_P_AL: "low",
    MED_PRI_P_AL: "medium",
    HI_PRI_P_AL: "high",
}

# -- physiological ids (partition SCADA) -------------------------------------------------------
NOM_ECG_CARD_BEAT_RATE: Final = 0x4182  # HR from ECG (IVH, VSC)
NOM_PLETH_PULS_RATE: Final = 0x4822  # pulse from SpO2 (VSC)
NOM_PRESS_BLD_NONINV_SYS: Final = 0x4A05  # NBP (VSC)
NOM_PRESS_BLD_NONINV_DIA: Final = 0x4A06  # (VSC)
NOM_PRESS_BLD_NONINV_MEAN: Final = 0x4A07  # (VSC)
NOM_PRESS_BLD_ART_SYS: Final = 0x4A11  # ART (VSC)
NOM_PRESS_BLD_ART_DIA: Final = 0x4A12  # (VSC)
NOM_PRESS_BLD_ART_MEAN: Final = 0x4A13  # (VSC)
NOM_PRESS_BLD_ART_ABP_SYS: Final = 0x4A15  # ABP (VSC, OICE)
NOM_PRESS_BLD_ART_ABP_DIA: Final = 0x4A16  # (VSC, OICE)
NOM_PRESS_BLD_ART_ABP_MEAN: Final = 0x4A17  # (VSC, OICE)
NOM_TEMP: Final = 0x4B48  # (VSC)
NOM_TEMP_CORE: Final = 0x4B60  # (VSC)
NOM_PULS_OXIM_SAT_O2: Final = 0x4BB8  # SpO2 (VSC)
NOM_RESP_RATE: Final = 0x500A  # (VSC)
NOM_AWAY_RESP_RATE: Final = 0x5012  # airway respiration rate (VSC)
NOM_AWAY_CO2_ET: Final = 0x50B0  # etCO2 (VSC)
NOM_TEMP_BLD: Final = 0xE014  # blood temperature, Philips-private (VSC)

# -- units (partition DIM) -----------------------------------------------------------------------
NOM_DIM_PERCENT: Final = 0x0220  # (IVH, OICE)
NOM_DIM_BEAT_PER_MIN: Final = 0x0AA0  # (IVH, OICE)
NOM_DIM_RESP_PER_MIN: Final = 0x0AE0  # (OICE)
NOM_DIM_KILO_PASCAL: Final = 0x0F03  # (IVH, OICE)
NOM_DIM_MMHG: Final = 0x0F20  # (IVH, OICE)
NOM_DIM_CM_H2O: Final = 0x0F40  # (IVH)
NOM_DIM_MILLI_BAR: Final = 0x0F72  # (IVH, OICE)
NOM_DIM_FAHR: Final = 0x1140  # (OICE)
NOM_DIM_DEGC: Final = 0x17A0  # (IVH, OICE)

UNITS: Final[dict[int, str]] = {
    NOM_DIM_PERCENT: "%",
    NOM_DIM_BEAT_PER_MIN: "/min",
    NOM_DIM_RESP_PER_MIN: "/min",
    NOM_DIM_KILO_PASCAL: "kPa",
    NOM_DIM_MMHG: "mm[Hg]",
    NOM_DIM_CM_H2O: "cm[H2O]",
    NOM_DIM_MILLI_BAR: "mbar",
    NOM_DIM_FAHR: "[degF]",
    NOM_DIM_DEGC: "Cel",
}
"""IntelliVue unit code → UCUM unit (core.units converts to the parameter's canonical unit)."""

PHYSIO_CODES: Final[dict[int, str]] = {
    NOM_ECG_CARD_BEAT_RATE: "MDC_ECG_HEART_RATE",
    # 0x4822 is not MDC_PULS_OXIM_PULS_RATE's term (0x481A): mapped explicitly (PROTOCOLS.md §3)
    NOM_PLETH_PULS_RATE: "MDC_PULS_OXIM_PULS_RATE",
    NOM_PULS_OXIM_SAT_O2: "MDC_PULS_OXIM_SAT_O2",
    NOM_PRESS_BLD_ART_ABP_SYS: "MDC_PRESS_BLD_ART_SYS",
    NOM_PRESS_BLD_ART_ABP_DIA: "MDC_PRESS_BLD_ART_DIA",
    NOM_PRESS_BLD_ART_ABP_MEAN: "MDC_PRESS_BLD_ART_MEAN",
    NOM_PRESS_BLD_ART_SYS: "MDC_PRESS_BLD_ART_SYS",
    NOM_PRESS_BLD_ART_DIA: "MDC_PRESS_BLD_ART_DIA",
    NOM_PRESS_BLD_ART_MEAN: "MDC_PRESS_BLD_ART_MEAN",
    NOM_PRESS_BLD_NONINV_SYS: "MDC_PRESS_BLD_NONINV_SYS",
    NOM_PRESS_BLD_NONINV_DIA: "MDC_PRESS_BLD_NONINV_DIA",
    NOM_PRESS_BLD_NONINV_MEAN: "MDC_PRESS_BLD_NONINV_MEAN",
    NOM_TEMP: "MDC_TEMP",
    NOM_TEMP_CORE: "MDC_TEMP_BLD",
    NOM_TEMP_BLD: "MDC_TEMP_BLD",
    NOM_RESP_RATE: "MDC_RESP_RATE",
    NOM_AWAY_RESP_RATE: "MDC_RESP_RATE",
    NOM_AWAY_CO2_ET: "MDC_AWAY_CO2_ET",
}
"""IntelliVue physio id → our vocabulary code (core.params)."""

# -- alarm codes (partition EVT); matched on the code, never the text ------------------------
NOM_EVT_APNEA: Final = 0x0C00  # 3072 (IVH, VSC AlarmCodes)
NOM_EVT_ECG_ASYSTOLE: Final = 0x0C04  # 3076 (IVH, VSC)
NOM_EVT_ECG_BRADY_EXTREME: Final = 0x0C0E  # 3086 (IVH, VSC)
NOM_EVT_ECG_TACHY_EXTREME: Final = 0x0C32  # 3122 (IVH, VSC)
NOM_EVT_ECG_SV_TACHY: Final = 0x0C78  # 3192 (VSC)
NOM_EVT_ECG_V_TACHY: Final = 0x0C98  # 3224 (IVH, VSC)
NOM_EVT_ECG_V_TACHY_NON_SUST: Final = 0x0C9A  # 3226 (IVH, VSC)
NOM_EVT_DESAT: Final = 0x0CAE  # 3246 (IVH, VSC)
NOM_EVT_STAT_ECG_AL_ALL_OFF: Final = 0x1826  # 6182, "all ECG alarms off" (VSC)
NOM_EVT_STAT_ECG_AL_SOME_OFF: Final = 0x1828  # 6184, "some ECG alarms off" (VSC)
NOM_EVT_ECG_V_FIB_TACHY: Final = 0xF004  # 61444, VFib/VTach, Philips-private (IVH, VSC)
NOM_EVT_ECG_ATR_FIB: Final = 0xF1C8  # 61896, atrial fibrillation, Philips-private (VSC)

RHYTHMS: Final[dict[int, str]] = {
    NOM_EVT_ECG_ASYSTOLE: "asystole",
    NOM_EVT_ECG_V_TACHY: "VT",
    NOM_EVT_ECG_V_TACHY_NON_SUST: "VT",
    NOM_EVT_ECG_V_FIB_TACHY: "VF",
    NOM_EVT_ECG_BRADY_EXTREME: "brady",
    NOM_EVT_ECG_SV_TACHY: "SVT",
    NOM_EVT_ECG_ATR_FIB: "AF",
}
"""Alarm code → rhythm name of an `arrhythmia` event (DESIGN.md vocabulary)."""

SUSTAINED: Final[dict[int, bool]] = {NOM_EVT_ECG_V_TACHY_NON_SUST: False}
"""Codes whose rhythm is explicitly non-sustained (the event carries `sustained: false`)."""

ECG_ALARMS_OFF: Final = frozenset({NOM_EVT_STAT_ECG_AL_ALL_OFF, NOM_EVT_STAT_ECG_AL_SOME_OFF})
"""Status alarms saying the monitor is not watching (all or some) ECG/arrhythmia alarms."""

ALARM_NAMES: Final[dict[int, str]] = {
    NOM_EVT_APNEA: "apnea",
    NOM_EVT_ECG_TACHY_EXTREME: "extreme_tachy",
    NOM_EVT_DESAT: "desat",
    NOM_EVT_STAT_ECG_AL_ALL_OFF: "ecg_alarms_all_off",
    NOM_EVT_STAT_ECG_AL_SOME_OFF: "ecg_alarms_some_off",
}
"""Short names for alarm codes we recognise but do not turn into arrhythmia events."""
