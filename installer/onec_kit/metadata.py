"""Designer XML of metadata objects: the extension's Configuration.xml, common modules and
forms, and the external data processor's root. Structure follows public Designer dumps
(format 2.17, platform 8.3.17+): MetaDataObject root, the object element with a stable uuid,
InternalInfo where Designer writes one, Properties in Designer's order, ChildObjects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from xml.sax.saxutils import escape

from installer.onec_kit.forms import FORMAT_VERSION, local_string

MD_NAMESPACES = (
    'xmlns="http://v8.1c.ru/8.3/MDClasses" '
    'xmlns:app="http://v8.1c.ru/8.2/managed-application/core" '
    'xmlns:cfg="http://v8.1c.ru/8.1/data/enterprise/current-config" '
    'xmlns:cmi="http://v8.1c.ru/8.2/managed-application/cmi" '
    'xmlns:ent="http://v8.1c.ru/8.1/data/enterprise" '
    'xmlns:lf="http://v8.1c.ru/8.2/managed-application/logform" '
    'xmlns:style="http://v8.1c.ru/8.1/data/ui/style" '
    'xmlns:sys="http://v8.1c.ru/8.1/data/ui/fonts/system" '
    'xmlns:v8="http://v8.1c.ru/8.1/data/core" '
    'xmlns:v8ui="http://v8.1c.ru/8.1/data/ui" '
    'xmlns:web="http://v8.1c.ru/8.1/data/ui/colors/web" '
    'xmlns:win="http://v8.1c.ru/8.1/data/ui/colors/windows" '
    'xmlns:xen="http://v8.1c.ru/8.3/xcf/enums" '
    'xmlns:xpr="http://v8.1c.ru/8.3/xcf/predef" '
    'xmlns:xr="http://v8.1c.ru/8.3/xcf/readable" '
    'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
)
# The seven containers every Configuration.xml lists (the same ClassIds in every public dump).
CONFIGURATION_CLASS_IDS = (
    "9cd510cd-abfc-11d4-9434-004095e12fc7", "9fcd25a0-4822-11d4-9414-008048da11f9",
    "e3687481-0a87-462c-a166-9f34594f9bba", "9de14907-ec23-4a07-96f0-85521cb6b53b",
    "51f2d5d8-ea4d-4064-8892-82951750031e", "e68182ea-4237-4383-967f-90c1e3370bc7",
    "fb282519-d103-4dd3-bc12-cb271d631dfc",
)
EXTERNAL_DATA_PROCESSOR_CLASS_ID = "c3831ec8-d8d5-4f93-8a22-f9bfae07327f"
_NAMESPACE = uuid.UUID("6b1f6a52-3c1e-4d0e-9a57-1c0b7d9e2a10")  # this kit's own namespace


def stable_uuid(*parts: str) -> str:
    """The same uuid on every regeneration, different for every object."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def document(body: list[str]) -> str:
    head = ['<?xml version="1.0" encoding="UTF-8"?>',
            f'<MetaDataObject {MD_NAMESPACES} version="{FORMAT_VERSION}">']
    return "\n".join(head + body + ["</MetaDataObject>"]) + "\n"


def _purposes(indent: str) -> list[str]:
    return [f"{indent}<UsePurposes>",
            f'{indent}\t<v8:Value xsi:type="app:ApplicationUsePurpose">PlatformApplication</v8:Value>',
            f"{indent}</UsePurposes>"]


@dataclass(frozen=True)
class CommonModule:
    name: str
    synonym: str
    client: bool
    server: bool
    server_call: bool


def common_module_xml(tree: str, module: CommonModule) -> str:
    flag = lambda value: "true" if value else "false"  # noqa: E731
    body = [f'\t<CommonModule uuid="{stable_uuid(tree, "CommonModule", module.name)}">', "\t\t<Properties>",
            f"\t\t\t<Name>{module.name}</Name>"]
    body += local_string("Synonym", module.synonym, "\t\t\t")
    body += ["\t\t\t<Comment/>", "\t\t\t<Global>false</Global>",
             f"\t\t\t<ClientManagedApplication>{flag(module.client)}</ClientManagedApplication>",
             f"\t\t\t<Server>{flag(module.server)}</Server>",
             "\t\t\t<ExternalConnection>false</ExternalConnection>",
             f"\t\t\t<ClientOrdinaryApplication>{flag(module.client)}</ClientOrdinaryApplication>",
             f"\t\t\t<ServerCall>{flag(module.server_call)}</ServerCall>",
             "\t\t\t<Privileged>false</Privileged>",
             "\t\t\t<ReturnValuesReuse>DontUse</ReturnValuesReuse>",
             "\t\t</Properties>", "\t</CommonModule>"]
    return document(body)


def common_form_xml(tree: str, name: str, synonym: str) -> str:
    body = [f'\t<CommonForm uuid="{stable_uuid(tree, "CommonForm", name)}">', "\t\t<Properties>",
            f"\t\t\t<Name>{name}</Name>"]
    body += local_string("Synonym", synonym, "\t\t\t")
    body += ["\t\t\t<Comment/>", "\t\t\t<FormType>Managed</FormType>",
             "\t\t\t<IncludeHelpInContents>false</IncludeHelpInContents>"]
    body += _purposes("\t\t\t")
    body += ["\t\t\t<UseStandardCommands>false</UseStandardCommands>", "\t\t\t<ExtendedPresentation/>",
             "\t\t\t<Explanation/>", "\t\t</Properties>", "\t</CommonForm>"]
    return document(body)


def adopted_language_xml(tree: str) -> str:
    """Русский, adopted from the extended configuration (matched by name, see Configuration.xml)."""
    body = [f'\t<Language uuid="{stable_uuid(tree, "Language", "Русский")}">', "\t\t<InternalInfo/>",
            "\t\t<Properties>", "\t\t\t<ObjectBelonging>Adopted</ObjectBelonging>",
            "\t\t\t<Name>Русский</Name>", "\t\t\t<Comment/>",
            f"\t\t\t<ExtendedConfigurationObject>{stable_uuid('base', 'Language', 'Русский')}"
            "</ExtendedConfigurationObject>",
            "\t\t\t<LanguageCode>ru</LanguageCode>", "\t\t</Properties>", "\t</Language>"]
    return document(body)


@dataclass(frozen=True)
class Extension:
    name: str
    synonym: str
    prefix: str
    compatibility: str  # e.g. Version8_3_12
    version: str
    modules: tuple[CommonModule, ...]
    forms: tuple[tuple[str, str], ...]  # (name, synonym)


def configuration_xml(tree: str, ext: Extension) -> str:
    body = [f'\t<Configuration uuid="{stable_uuid(tree, "Configuration", ext.name)}">', "\t\t<InternalInfo>"]
    for class_id in CONFIGURATION_CLASS_IDS:
        body += ["\t\t\t<xr:ContainedObject>", f"\t\t\t\t<xr:ClassId>{class_id}</xr:ClassId>",
                 f"\t\t\t\t<xr:ObjectId>{stable_uuid(tree, 'Contained', class_id)}</xr:ObjectId>",
                 "\t\t\t</xr:ContainedObject>"]
    body += ["\t\t</InternalInfo>", "\t\t<Properties>", "\t\t\t<ObjectBelonging>Adopted</ObjectBelonging>",
             f"\t\t\t<Name>{ext.name}</Name>"]
    body += local_string("Synonym", ext.synonym, "\t\t\t")
    body += ["\t\t\t<Comment/>", "\t\t\t<ConfigurationExtensionPurpose>AddOn</ConfigurationExtensionPurpose>",
             # false: adopted objects (the language) are matched by name in any configuration
             "\t\t\t<KeepMappingToExtendedConfigurationObjectsByIDs>false"
             "</KeepMappingToExtendedConfigurationObjectsByIDs>",
             f"\t\t\t<NamePrefix>{ext.prefix}</NamePrefix>",
             f"\t\t\t<ConfigurationExtensionCompatibilityMode>{ext.compatibility}"
             "</ConfigurationExtensionCompatibilityMode>",
             "\t\t\t<DefaultRunMode>ManagedApplication</DefaultRunMode>"]
    body += _purposes("\t\t\t")
    body += ["\t\t\t<ScriptVariant>Russian</ScriptVariant>", "\t\t\t<DefaultRoles/>",
             f"\t\t\t<Vendor>{escape('Мост ГигаЧат для 1С')}</Vendor>",
             f"\t\t\t<Version>{ext.version}</Version>",
             "\t\t\t<DefaultLanguage>Language.Русский</DefaultLanguage>"]
    body += local_string("BriefInformation", ext.synonym, "\t\t\t")
    body += ["\t\t\t<DetailedInformation/>", "\t\t\t<Copyright/>", "\t\t\t<VendorInformationAddress/>",
             "\t\t\t<ConfigurationInformationAddress/>", "\t\t</Properties>", "\t\t<ChildObjects>",
             "\t\t\t<Language>Русский</Language>"]
    body += [f"\t\t\t<CommonModule>{m.name}</CommonModule>" for m in ext.modules]
    body += [f"\t\t\t<CommonForm>{name}</CommonForm>" for name, _ in ext.forms]
    body += ["\t\t</ChildObjects>", "\t</Configuration>"]
    return document(body)


def processor_xml(tree: str, name: str, synonym: str, forms: tuple[str, ...]) -> str:
    body = [f'\t<ExternalDataProcessor uuid="{stable_uuid(tree, "ExternalDataProcessor", name)}">',
            "\t\t<InternalInfo>", "\t\t\t<xr:ContainedObject>",
            f"\t\t\t\t<xr:ClassId>{EXTERNAL_DATA_PROCESSOR_CLASS_ID}</xr:ClassId>",
            f"\t\t\t\t<xr:ObjectId>{stable_uuid(tree, 'Object', name)}</xr:ObjectId>",
            "\t\t\t</xr:ContainedObject>",
            f'\t\t\t<xr:GeneratedType name="ExternalDataProcessorObject.{name}" category="Object">',
            f"\t\t\t\t<xr:TypeId>{stable_uuid(tree, 'TypeId', name)}</xr:TypeId>",
            f"\t\t\t\t<xr:ValueId>{stable_uuid(tree, 'ValueId', name)}</xr:ValueId>",
            "\t\t\t</xr:GeneratedType>", "\t\t</InternalInfo>", "\t\t<Properties>",
            f"\t\t\t<Name>{name}</Name>"]
    body += local_string("Synonym", synonym, "\t\t\t")
    body += ["\t\t\t<Comment/>",
             f"\t\t\t<DefaultForm>ExternalDataProcessor.{name}.Form.{forms[0]}</DefaultForm>",
             "\t\t\t<AuxiliaryForm/>", "\t\t</Properties>", "\t\t<ChildObjects>"]
    body += [f"\t\t\t<Form>{form}</Form>" for form in forms]
    body += ["\t\t</ChildObjects>", "\t</ExternalDataProcessor>"]
    return document(body)


def processor_form_xml(tree: str, processor: str, name: str, synonym: str) -> str:
    body = [f'\t<Form uuid="{stable_uuid(tree, "Form", processor, name)}">', "\t\t<Properties>",
            f"\t\t\t<Name>{name}</Name>"]
    body += local_string("Synonym", synonym, "\t\t\t")
    body += ["\t\t\t<Comment/>", "\t\t\t<FormType>Managed</FormType>",
             "\t\t\t<IncludeHelpInContents>false</IncludeHelpInContents>"]
    body += _purposes("\t\t\t")
    body += ["\t\t\t<ExtendedPresentation/>", "\t\t</Properties>", "\t</Form>"]
    return document(body)
