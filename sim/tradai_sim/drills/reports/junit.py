"""JUnit XML: one test case per invariant (and per steady-state probe), so CI shows which held."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from tradai_sim.drills.verdicts import Outcome


def junit_xml(drill: str, outcomes: list[Outcome], wall_s: float) -> str:
    failures = [o for o in outcomes if not o.ok]
    suite = ET.Element("testsuite", name=f"drill.{drill}", tests=str(len(outcomes)),
                       failures=str(len(failures)), errors="0", time=f"{wall_s:.2f}")
    for o in outcomes:
        case = ET.SubElement(suite, "testcase", classname=f"drill.{drill}.{o.phase}",
                             name=o.name)
        if not o.ok:
            ET.SubElement(case, "failure", message=o.line()).text = o.detail
        else:
            ET.SubElement(case, "system-out").text = o.line()
    return ET.tostring(ET.ElementTree(suite).getroot(), encoding="unicode", xml_declaration=True)
