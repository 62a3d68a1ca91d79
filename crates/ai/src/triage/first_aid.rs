//! First aid for every urgent category, in each language the triage answers in.
//!
//! Faithful to `shared/triage/CATEGORIES.md` (ADA, NHS and IADT guidance). Emergencies tell the
//! reader to call emergency services; every text tells them to contact the clinic. English is the
//! text the rules table used to carry; Spanish and Portuguese say the same, in plain words.

use shared::ai::{Language, Severity};

/// One urgent category: its stable name, severity and first-aid reply in each language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstAid {
    /// Snake case of the CATEGORIES.md name (`airway_threatening_swelling`).
    pub category: &'static str,
    pub severity: Severity,
    pub en: &'static str,
    pub es: &'static str,
    pub pt: &'static str,
}

impl FirstAid {
    /// The reply in `language`.
    pub fn text(&self, language: Language) -> &'static str {
        match language {
            Language::En => self.en,
            Language::Es => self.es,
            Language::Pt => self.pt,
        }
    }
}

/// The entry for `category`, if it is one of the urgent categories.
pub fn lookup(category: &str) -> Option<&'static FirstAid> {
    CATEGORIES.iter().find(|entry| entry.category == category)
}

/// Every urgent category of CATEGORIES.md (emergencies first).
pub const CATEGORIES: &[FirstAid] = &[
    FirstAid {
        category: "allergic_swelling",
        severity: Severity::Emergency,
        en: "This could be a serious allergic reaction. If breathing or swallowing is difficult, the throat feels tight, or the person feels faint, please call emergency services (911/999/112) now, and use an adrenaline auto-injector (such as an EpiPen) if they have one.\n\n\
Stop using the medicine or product that may have caused it. If the swelling is mild and breathing is completely normal, contact the clinic or a doctor now for same-day advice, and keep a close eye on it: call emergency services straight away if it spreads or breathing changes.\n\n\
Please tell the clinic what was taken or used, so it can be recorded in your notes.",
        es: "Esto podría ser una reacción alérgica grave. Si cuesta respirar o tragar, nota la garganta cerrada o la persona se siente a punto de desmayarse, llame a emergencias (112/911) ahora y use un autoinyector de adrenalina (como un EpiPen) si lo tiene.\n\n\
Deje de usar el medicamento o el producto que pudo causarlo. Si la hinchazón es leve y la respiración es totalmente normal, contacte ahora con la clínica o con un médico para que le aconsejen hoy mismo, y vigílelo de cerca: llame a emergencias enseguida si la hinchazón se extiende o la respiración cambia.\n\n\
Diga a la clínica qué tomó o usó, para que quede anotado en su historial.",
        pt: "Isto pode ser uma reação alérgica grave. Se for difícil respirar ou engolir, a garganta parecer apertada ou a pessoa se sentir a desmaiar, ligue já para os serviços de emergência (112, ou 192 no Brasil) e use um autoinjetor de adrenalina (como uma EpiPen) se a pessoa tiver um.\n\n\
Pare de usar o medicamento ou o produto que pode ter causado a reação. Se o inchaço for ligeiro e a respiração estiver completamente normal, contacte já a clínica ou um médico para orientação no mesmo dia, e vigie de perto: ligue para a emergência imediatamente se o inchaço se espalhar ou a respiração mudar.\n\n\
Diga à clínica o que foi tomado ou usado, para ficar registado na sua ficha.",
    },
    FirstAid {
        category: "airway_threatening_swelling",
        severity: Severity::Emergency,
        en: "Swelling with difficulty breathing or swallowing, drooling or noisy breathing needs help immediately. Please call emergency services (911/999/112) now or go to the nearest A&E / emergency room.\n\n\
While you wait, sit upright and lean slightly forward, which makes breathing easier, and don't lie flat. Don't drive yourself. Don't try to eat or drink, and don't put heat on the swelling.\n\n\
Once you are safe, let the clinic know what happened so we can arrange follow-up care.",
        es: "Una hinchazón con dificultad para respirar o tragar, babeo o respiración ruidosa necesita ayuda inmediata. Llame a emergencias (112/911) ahora o vaya al servicio de urgencias más cercano.\n\n\
Mientras espera, siéntese erguido e inclínese un poco hacia delante, que facilita la respiración, y no se tumbe. No conduzca usted mismo. No intente comer ni beber, y no ponga calor sobre la hinchazón.\n\n\
Cuando esté a salvo, avise a la clínica de lo ocurrido para organizar el seguimiento.",
        pt: "Inchaço com dificuldade para respirar ou engolir, baba a escorrer ou respiração ruidosa precisa de ajuda imediata. Ligue já para os serviços de emergência (112, ou 192 no Brasil) ou vá às urgências / ao pronto-socorro mais próximo.\n\n\
Enquanto espera, sente-se direito e incline-se um pouco para a frente, o que facilita a respiração, e não se deite. Não conduza. Não tente comer nem beber, e não ponha calor sobre o inchaço.\n\n\
Quando estiver em segurança, avise a clínica do que aconteceu para combinarmos o acompanhamento.",
    },
    FirstAid {
        category: "jaw_dislocation",
        severity: Severity::Emergency,
        en: "A jaw that is stuck open or won't close needs to be seen today. Please go to A&E / the emergency room or an urgent care centre now, and contact the clinic to let us know. If there was a hard blow to the face, or breathing is affected, call emergency services (911/999/112).\n\n\
Support your jaw gently with your hand or a folded scarf under the chin, and don't try to force it back into place yourself. Don't drive. A cold compress on the side of the face can ease pain and swelling.",
        es: "Una mandíbula que se ha quedado abierta o que no cierra tiene que verse hoy. Vaya ahora a urgencias o a un centro de atención urgente, y contacte con la clínica para avisarnos. Si hubo un golpe fuerte en la cara o cuesta respirar, llame a emergencias (112/911).\n\n\
Sujete la mandíbula con suavidad con la mano o con un pañuelo doblado bajo la barbilla, y no intente volver a colocarla a la fuerza. No conduzca. Una compresa fría en el lado de la cara puede aliviar el dolor y la hinchazón.",
        pt: "Um maxilar que ficou preso aberto ou não fecha precisa de ser visto hoje. Vá já às urgências / ao pronto-socorro ou a um serviço de atendimento urgente, e contacte a clínica para nos avisar. Se houve uma pancada forte na cara ou a respiração estiver afetada, ligue para os serviços de emergência (112, ou 192 no Brasil).\n\n\
Apoie o maxilar com cuidado com a mão ou com um lenço dobrado por baixo do queixo, e não tente pô-lo no lugar à força. Não conduza. Uma compressa fria no lado da cara pode aliviar a dor e o inchaço.",
    },
    FirstAid {
        category: "uncontrolled_bleeding",
        severity: Severity::Emergency,
        en: "Bleeding that won't stop needs action now. Fold a clean gauze pad or a clean cotton cloth (a damp tea bag also works), place it over the spot and bite down firmly, or press on it, for 20-30 minutes without checking. Sit upright and keep your head raised. Don't rinse, spit, drink hot drinks or lie flat.\n\n\
If the bleeding is heavy, or hasn't slowed after two rounds of firm pressure, please go to A&E / the emergency room or call emergency services (911/999/112). Otherwise, contact the clinic now so we can advise you and see you today.\n\n\
If you take blood thinners, please mention it when you call.",
        es: "Un sangrado que no para necesita actuar ya. Doble una gasa limpia o un paño de algodón limpio (una bolsita de té húmeda también sirve), colóquela sobre la zona y muerda con firmeza, o presione, durante 20-30 minutos sin mirar. Siéntese erguido con la cabeza alta. No se enjuague, no escupa, no tome bebidas calientes y no se tumbe.\n\n\
Si el sangrado es abundante o no ha disminuido tras dos tandas de presión firme, vaya a urgencias o llame a emergencias (112/911). Si no, contacte ahora con la clínica para que le aconsejemos y le veamos hoy.\n\n\
Si toma anticoagulantes, dígalo cuando llame.",
        pt: "Um sangramento que não para precisa de ação já. Dobre uma compressa de gaze limpa ou um pano de algodão limpo (um saquinho de chá húmido também serve), coloque-o sobre o local e morda com firmeza, ou pressione, durante 20-30 minutos sem espreitar. Fique sentado, com a cabeça levantada. Não bocheche, não cuspa, não beba bebidas quentes e não se deite.\n\n\
Se o sangramento for forte ou não tiver diminuído depois de duas rondas de pressão firme, vá às urgências / ao pronto-socorro ou ligue para os serviços de emergência (112, ou 192 no Brasil). Caso contrário, contacte já a clínica para o orientarmos e o vermos hoje.\n\n\
Se toma anticoagulantes, diga-o quando ligar.",
    },
    FirstAid {
        category: "facial_trauma",
        severity: Severity::Emergency,
        en: "After a blow to the face or jaw, a bite that no longer meets, numbness, teeth moving together as a block, or a mouth that won't open or close normally can mean a broken jaw or facial bone. Please go to A&E / the emergency room now, or call emergency services (911/999/112) if there is heavy bleeding, trouble breathing, or the person was knocked out.\n\n\
Hold a cold compress (ice wrapped in a cloth) against the area, keep the jaw still and gently supported, and don't eat. Please also contact the clinic so we can arrange dental follow-up.",
        es: "Después de un golpe en la cara o la mandíbula, una mordida que ya no encaja, entumecimiento, dientes que se mueven juntos como un bloque o una boca que no abre o no cierra con normalidad pueden indicar una fractura de mandíbula o de un hueso de la cara. Vaya a urgencias ahora, o llame a emergencias (112/911) si hay un sangrado abundante, dificultad para respirar o la persona perdió el conocimiento.\n\n\
Aplique una compresa fría (hielo envuelto en un paño) sobre la zona, mantenga la mandíbula quieta y sujeta con suavidad, y no coma. Contacte también con la clínica para organizar el seguimiento dental.",
        pt: "Depois de uma pancada na cara ou no maxilar, uma mordida que já não encaixa, dormência, dentes que se mexem juntos como um bloco ou uma boca que não abre nem fecha normalmente podem indicar uma fratura do maxilar ou de um osso da face. Vá já às urgências / ao pronto-socorro, ou ligue para os serviços de emergência (112, ou 192 no Brasil) se houver sangramento forte, dificuldade para respirar ou se a pessoa desmaiou.\n\n\
Ponha uma compressa fria (gelo embrulhado num pano) sobre a zona, mantenha o maxilar quieto e apoiado com cuidado, e não coma. Contacte também a clínica para combinarmos o acompanhamento dentário.",
    },
    FirstAid {
        category: "spreading_infection",
        severity: Severity::Emergency,
        en: "A dental infection with swelling spreading towards the eye or neck, a fever or shivering, or feeling very unwell needs urgent care today. If the swelling affects your eye, breathing or swallowing, please go to A&E / the emergency room now or call emergency services (911/999/112).\n\n\
Otherwise, contact the clinic now for a same-day urgent appointment. Don't hold heat against the swelling; a cold compress on the outside of the face is fine. Painkillers such as paracetamol or ibuprofen, taken as the pack directs, can help while you arrange care.",
        es: "Una infección dental con hinchazón que se extiende hacia el ojo o el cuello, fiebre o escalofríos, o sentirse muy mal necesita atención urgente hoy. Si la hinchazón afecta al ojo, a la respiración o a la deglución, vaya a urgencias ahora o llame a emergencias (112/911).\n\n\
Si no, contacte ahora con la clínica para una cita urgente hoy mismo. No aplique calor sobre la hinchazón; una compresa fría por fuera de la cara sí está bien. Los analgésicos como el paracetamol o el ibuprofeno, tomados según el prospecto, pueden ayudar mientras consigue atención.",
        pt: "Uma infeção dentária com inchaço que se espalha em direção ao olho ou ao pescoço, febre ou calafrios, ou sentir-se muito mal precisa de cuidados urgentes hoje. Se o inchaço afetar o olho, a respiração ou a deglutição, vá já às urgências / ao pronto-socorro ou ligue para os serviços de emergência (112, ou 192 no Brasil).\n\n\
Caso contrário, contacte já a clínica para uma consulta urgente no mesmo dia. Não ponha calor sobre o inchaço; uma compressa fria por fora da cara não faz mal. Analgésicos como paracetamol ou ibuprofeno, tomados como indica a embalagem, podem ajudar enquanto procura atendimento.",
    },
    FirstAid {
        category: "pericoronitis",
        severity: Severity::Urgent,
        en: "A sore, swollen gum over a wisdom tooth that is coming through is usually inflamed gum tissue and needs to be checked by a dentist. Please contact the clinic now for an urgent appointment, and sooner rather than later if you have swelling, a fever or trouble opening your mouth.\n\n\
Meanwhile, rinse gently with warm salt water (half a teaspoon of salt in a glass of warm water) several times a day, keep the area as clean as you can with a soft brush, and take painkillers such as paracetamol or ibuprofen as the pack directs. If swelling spreads to your face or neck, or breathing or swallowing becomes difficult, go to A&E or call emergency services (911/999/112).",
        es: "Una encía dolorida e hinchada sobre una muela del juicio que está saliendo suele ser una inflamación de la encía y tiene que revisarla un dentista. Contacte ahora con la clínica para una cita urgente, y cuanto antes si tiene hinchazón, fiebre o le cuesta abrir la boca.\n\n\
Mientras tanto, enjuáguese con suavidad con agua templada con sal (media cucharadita de sal en un vaso de agua templada) varias veces al día, mantenga la zona lo más limpia posible con un cepillo suave y tome analgésicos como paracetamol o ibuprofeno según el prospecto. Si la hinchazón se extiende a la cara o al cuello, o cuesta respirar o tragar, vaya a urgencias o llame a emergencias (112/911).",
        pt: "Uma gengiva dorida e inchada sobre um dente do siso a nascer costuma ser uma inflamação da gengiva e tem de ser vista por um dentista. Contacte já a clínica para uma consulta urgente, e o quanto antes se tiver inchaço, febre ou dificuldade em abrir a boca.\n\n\
Entretanto, bocheche com cuidado com água morna com sal (meia colher de chá de sal num copo de água morna) várias vezes por dia, mantenha a zona o mais limpa possível com uma escova macia e tome analgésicos como paracetamol ou ibuprofeno como indica a embalagem. Se o inchaço se espalhar para a cara ou o pescoço, ou ficar difícil respirar ou engolir, vá às urgências ou ligue para os serviços de emergência (112, ou 192 no Brasil).",
    },
    FirstAid {
        category: "infection_child",
        severity: Severity::Urgent,
        en: "A child with dental swelling, pus or a fever needs to be seen today. Please contact the clinic now for a same-day appointment.\n\n\
You can give children's paracetamol or ibuprofen at the dose for your child's age, as the pack directs; don't give aspirin to children under 16. Offer cool drinks and soft food. Go to A&E / the emergency room, or call emergency services (911/999/112), if the swelling reaches the eye, your child has trouble breathing or swallowing, or seems very unwell or drowsy.",
        es: "Un niño con hinchazón dental, pus o fiebre tiene que ser visto hoy. Contacte ahora con la clínica para una cita en el mismo día.\n\n\
Puede darle paracetamol o ibuprofeno infantil a la dosis de su edad, según el prospecto; no dé aspirina a menores de 16 años. Ofrézcale bebidas frescas y comida blanda. Vaya a urgencias, o llame a emergencias (112/911), si la hinchazón llega al ojo, al niño le cuesta respirar o tragar, o está muy decaído o somnoliento.",
        pt: "Uma criança com inchaço dentário, pus ou febre precisa de ser vista hoje. Contacte já a clínica para uma consulta no mesmo dia.\n\n\
Pode dar paracetamol ou ibuprofeno infantil na dose para a idade da criança, como indica a embalagem; não dê aspirina a menores de 16 anos. Ofereça bebidas frescas e comida mole. Vá às urgências / ao pronto-socorro, ou ligue para os serviços de emergência (112, ou 192 no Brasil), se o inchaço chegar ao olho, a criança tiver dificuldade em respirar ou engolir, ou parecer muito abatida ou sonolenta.",
    },
    FirstAid {
        category: "orthodontic_wire_trauma",
        severity: Severity::Urgent,
        en: "A wire or bracket digging into your cheek, lip or tongue can be made comfortable at home until the orthodontist can fix it. Use the eraser end of a pencil or a cotton bud to push the wire gently flat against the tooth, or cover the end with orthodontic wax, a small ball of cotton or sugar-free gum. Don't try to cut the wire yourself.\n\n\
Rinse with warm salt water to soothe any sore spots. Please contact the clinic now (or your orthodontist) so they can see you promptly.",
        es: "Un alambre o un bracket que se clava en la mejilla, el labio o la lengua se puede aliviar en casa hasta que el ortodoncista lo arregle. Con la goma de borrar de un lápiz o un bastoncillo, empuje el alambre con suavidad hasta dejarlo plano contra el diente, o cubra la punta con cera de ortodoncia, una bolita de algodón o chicle sin azúcar. No intente cortar el alambre usted mismo.\n\n\
Enjuáguese con agua templada con sal para calmar las zonas doloridas. Contacte ahora con la clínica (o con su ortodoncista) para que le vean pronto.",
        pt: "Um fio ou um bracket a espetar na bochecha, no lábio ou na língua pode ser aliviado em casa até o ortodontista o resolver. Com a borracha de um lápis ou um cotonete, empurre o fio com cuidado até ficar encostado ao dente, ou cubra a ponta com cera ortodôntica, uma bolinha de algodão ou pastilha elástica sem açúcar. Não tente cortar o fio sozinho.\n\n\
Bocheche com água morna com sal para acalmar as zonas doridas. Contacte já a clínica (ou o seu ortodontista) para o verem em breve.",
    },
    FirstAid {
        category: "denture_ulcer",
        severity: Severity::Urgent,
        en: "Denture sores that stop you eating should be seen soon so the denture can be adjusted. Please contact the clinic now to book an adjustment.\n\n\
Until then, leave the denture out as much as you can, rinse with warm salt water a few times a day, and choose soft, cool foods. Painkillers such as paracetamol, taken as the pack directs, can help. Any mouth ulcer that hasn't healed within 3 weeks needs to be checked.",
        es: "Las llagas por la dentadura que le impiden comer deben verse pronto para ajustar la dentadura. Contacte ahora con la clínica para pedir un ajuste.\n\n\
Hasta entonces, deje la dentadura fuera todo lo que pueda, enjuáguese con agua templada con sal varias veces al día y elija comidas blandas y frescas. Los analgésicos como el paracetamol, tomados según el prospecto, pueden ayudar. Cualquier llaga en la boca que no se haya curado en 3 semanas tiene que revisarse.",
        pt: "Feridas causadas pela dentadura que não o deixam comer devem ser vistas em breve para ajustar a dentadura. Contacte já a clínica para marcar um ajuste.\n\n\
Até lá, deixe a dentadura fora da boca o mais possível, bocheche com água morna com sal algumas vezes por dia e escolha alimentos moles e frescos. Analgésicos como o paracetamol, tomados como indica a embalagem, podem ajudar. Qualquer ferida na boca que não tenha sarado em 3 semanas tem de ser vista.",
    },
    FirstAid {
        category: "lost_temporary_with_pain",
        severity: Severity::Urgent,
        en: "When a temporary crown, filling or bridge comes off and the tooth hurts, it needs to be protected soon. Please contact the clinic now so we can re-fit it.\n\n\
Keep the piece safe and bring it with you. A crown can be held back on with temporary dental cement from a pharmacy or a little denture adhesive, but never superglue. Clove oil on a cotton bud can ease the pain, and painkillers such as paracetamol or ibuprofen, taken as the pack directs, can help. Avoid very hot, cold or sweet food, and chew on the other side.",
        es: "Cuando se cae una corona, un empaste o un puente provisional y el diente duele, hay que protegerlo pronto. Contacte ahora con la clínica para volver a colocarlo.\n\n\
Guarde la pieza y tráigala. Una corona se puede sujetar con cemento dental provisional de farmacia o un poco de adhesivo para dentaduras, pero nunca con pegamento instantáneo. El aceite de clavo en un bastoncillo puede aliviar el dolor, y los analgésicos como el paracetamol o el ibuprofeno, tomados según el prospecto, pueden ayudar. Evite la comida muy caliente, fría o dulce, y mastique por el otro lado.",
        pt: "Quando uma coroa, obturação ou ponte provisória cai e o dente dói, é preciso protegê-lo em breve. Contacte já a clínica para a voltarmos a colocar.\n\n\
Guarde a peça e traga-a consigo. Uma coroa pode ser segura com cimento dentário provisório da farmácia ou um pouco de adesivo para dentaduras, mas nunca com super cola. Óleo de cravinho num cotonete pode aliviar a dor, e analgésicos como paracetamol ou ibuprofeno, tomados como indica a embalagem, podem ajudar. Evite comida muito quente, fria ou doce, e mastigue do outro lado.",
    },
    FirstAid {
        category: "dry_socket",
        severity: Severity::Urgent,
        en: "Pain that gets worse a few days after an extraction, often with an empty-looking socket or a bad smell or taste, can happen when the healing blood clot is lost. The socket usually needs to be cleaned and dressed, so please contact the clinic now for an appointment.\n\n\
Meanwhile, take painkillers such as paracetamol or ibuprofen as the pack directs, don't smoke, and rinse gently with warm salt water after meals. If you develop a fever or swelling that spreads, go to A&E or call emergency services (911/999/112).",
        es: "Un dolor que empeora unos días después de una extracción, a menudo con un hueco que parece vacío o con mal olor o sabor, puede aparecer cuando se pierde el coágulo de cicatrización. Normalmente hay que limpiar el alveolo y ponerle un apósito, así que contacte ahora con la clínica para pedir cita.\n\n\
Mientras tanto, tome analgésicos como paracetamol o ibuprofeno según el prospecto, no fume y enjuáguese con suavidad con agua templada con sal después de comer. Si aparece fiebre o una hinchazón que se extiende, vaya a urgencias o llame a emergencias (112/911).",
        pt: "Uma dor que piora alguns dias depois de uma extração, muitas vezes com um alvéolo que parece vazio ou com mau cheiro ou mau gosto, pode acontecer quando se perde o coágulo de cicatrização. Normalmente o alvéolo precisa de ser limpo e tratado com um penso, por isso contacte já a clínica para marcar consulta.\n\n\
Entretanto, tome analgésicos como paracetamol ou ibuprofeno como indica a embalagem, não fume e bocheche com cuidado com água morna com sal depois das refeições. Se tiver febre ou um inchaço que se espalha, vá às urgências ou ligue para os serviços de emergência (112, ou 192 no Brasil).",
    },
    FirstAid {
        category: "post_operative_complication",
        severity: Severity::Urgent,
        en: "Fever, pus, swelling or pain that is getting worse a few days after an extraction, implant, root canal or surgery, or stitches that have opened, should be checked by the team that treated you. Please contact the clinic now so we can see you today.\n\n\
Keep the area clean with gentle warm salt-water rinses, don't smoke, and take painkillers such as paracetamol or ibuprofen as the pack directs. If swelling spreads towards your eye or neck, or breathing or swallowing becomes difficult, go to A&E or call emergency services (911/999/112).",
        es: "Fiebre, pus, hinchazón o un dolor que va a más unos días después de una extracción, un implante, una endodoncia o una cirugía, o unos puntos que se han abierto, deben revisarlos quienes le trataron. Contacte ahora con la clínica para que le veamos hoy.\n\n\
Mantenga la zona limpia con enjuagues suaves de agua templada con sal, no fume y tome analgésicos como paracetamol o ibuprofeno según el prospecto. Si la hinchazón se extiende hacia el ojo o el cuello, o cuesta respirar o tragar, vaya a urgencias o llame a emergencias (112/911).",
        pt: "Febre, pus, inchaço ou uma dor que está a piorar alguns dias depois de uma extração, implante, desvitalização ou cirurgia, ou pontos que se abriram, devem ser vistos pela equipa que o tratou. Contacte já a clínica para o vermos hoje.\n\n\
Mantenha a zona limpa com bochechos suaves de água morna com sal, não fume e tome analgésicos como paracetamol ou ibuprofeno como indica a embalagem. Se o inchaço se espalhar em direção ao olho ou ao pescoço, ou ficar difícil respirar ou engolir, vá às urgências ou ligue para os serviços de emergência (112, ou 192 no Brasil).",
    },
    FirstAid {
        category: "avulsion",
        severity: Severity::Urgent,
        en: "A knocked-out adult tooth can often be saved if you act quickly. Hold it by the crown (the white part), not the root. If it's dirty, rinse it briefly, for about 10 seconds, under cold running water. If you can, push it gently back into its socket and bite on a clean cloth to hold it in place. If not, keep it in milk or in saliva (inside the cheek for an adult), not in water.\n\n\
Please contact the clinic now: the tooth needs to be seen immediately, ideally within 30-60 minutes. If the clinic is closed, go to an emergency dentist or A&E. A baby tooth should not be put back, but the child should still be seen.",
        es: "Un diente definitivo que se ha salido entero a menudo se puede salvar si se actúa rápido. Cójalo por la corona (la parte blanca), no por la raíz. Si está sucio, enjuáguelo brevemente, unos 10 segundos, bajo el grifo de agua fría. Si puede, vuelva a meterlo con suavidad en su hueco y muerda un paño limpio para sujetarlo. Si no, guárdelo en leche o en saliva (dentro de la mejilla en un adulto), no en agua.\n\n\
Contacte ahora con la clínica: el diente tiene que verse de inmediato, idealmente en 30-60 minutos. Si la clínica está cerrada, vaya a un dentista de urgencias o a urgencias. Un diente de leche no se debe volver a colocar, pero el niño sí debe ser visto.",
        pt: "Um dente definitivo que saiu inteiro pode muitas vezes ser salvo se agir depressa. Segure-o pela coroa (a parte branca), não pela raiz. Se estiver sujo, passe-o rapidamente por água fria da torneira, cerca de 10 segundos. Se conseguir, volte a pô-lo com cuidado no lugar e morda um pano limpo para o segurar. Se não, guarde-o em leite ou em saliva (dentro da bochecha, num adulto), não em água.\n\n\
Contacte já a clínica: o dente tem de ser visto imediatamente, de preferência em 30-60 minutos. Se a clínica estiver fechada, vá a um dentista de urgência ou às urgências. Um dente de leite não deve ser recolocado, mas a criança deve ser vista na mesma.",
    },
    FirstAid {
        category: "luxation",
        severity: Severity::Urgent,
        en: "A tooth that has been pushed in, out or sideways, or is very loose after a knock, needs to be seen by a dentist today. Please contact the clinic now.\n\n\
Don't try to force the tooth back into place. Bite gently on a clean, folded cloth to keep it steady, hold a cold compress against your lip or cheek, and choose soft food. Painkillers such as paracetamol or ibuprofen, taken as the pack directs, can help. If there was a hard blow to the head or face, or the bite no longer meets, go to A&E.",
        es: "Un diente que se ha hundido, salido o desplazado hacia un lado, o que se mueve mucho después de un golpe, tiene que verlo un dentista hoy. Contacte ahora con la clínica.\n\n\
No intente colocar el diente a la fuerza. Muerda con suavidad un paño limpio doblado para mantenerlo quieto, ponga una compresa fría sobre el labio o la mejilla y elija comida blanda. Los analgésicos como el paracetamol o el ibuprofeno, tomados según el prospecto, pueden ayudar. Si hubo un golpe fuerte en la cabeza o la cara, o la mordida ya no encaja, vaya a urgencias.",
        pt: "Um dente que foi empurrado para dentro, para fora ou para o lado, ou que ficou muito mole depois de uma pancada, precisa de ser visto por um dentista hoje. Contacte já a clínica.\n\n\
Não tente pôr o dente no lugar à força. Morda com cuidado um pano limpo dobrado para o manter firme, ponha uma compressa fria sobre o lábio ou a bochecha e escolha comida mole. Analgésicos como paracetamol ou ibuprofeno, tomados como indica a embalagem, podem ajudar. Se houve uma pancada forte na cabeça ou na cara, ou a mordida já não encaixa, vá às urgências.",
    },
    FirstAid {
        category: "fracture_pulp_exposure",
        severity: Severity::Urgent,
        en: "A broken tooth with a pink or red spot showing means the nerve inside may be exposed. It needs same-day dental care to protect it, so please contact the clinic now.\n\n\
Keep any broken piece moist in milk or water and bring it with you. Rinse gently with warm water, cover the tooth with a piece of clean gauze or sugar-free gum if air or drinks hurt, and take painkillers such as paracetamol or ibuprofen as the pack directs.",
        es: "Un diente roto con un punto rosa o rojo a la vista indica que el nervio puede estar expuesto. Necesita atención dental hoy mismo para protegerlo, así que contacte ahora con la clínica.\n\n\
Guarde el trozo roto húmedo, en leche o en agua, y tráigalo. Enjuáguese con suavidad con agua templada, cubra el diente con una gasa limpia o chicle sin azúcar si el aire o las bebidas le duelen, y tome analgésicos como paracetamol o ibuprofeno según el prospecto.",
        pt: "Um dente partido com um ponto cor-de-rosa ou vermelho à vista significa que o nervo pode estar exposto. Precisa de cuidados dentários no mesmo dia para o proteger, por isso contacte já a clínica.\n\n\
Guarde o pedaço partido húmido, em leite ou em água, e traga-o consigo. Bocheche com cuidado com água morna, cubra o dente com gaze limpa ou pastilha elástica sem açúcar se o ar ou as bebidas doerem, e tome analgésicos como paracetamol ou ibuprofeno como indica a embalagem.",
    },
    FirstAid {
        category: "fracture_with_pain",
        severity: Severity::Urgent,
        en: "A cracked or broken tooth that hurts or has a sharp edge should be seen promptly. Please contact the clinic now for an urgent appointment.\n\n\
Meanwhile, rinse your mouth with warm water, hold a cold compress on your cheek to ease pain and swelling, and keep any broken pieces in milk or water to bring with you. Cover a sharp edge with dental wax or sugar-free gum, chew on the other side, and take painkillers such as paracetamol or ibuprofen as the pack directs.",
        es: "Un diente agrietado o roto que duele o tiene un borde afilado debe verse pronto. Contacte ahora con la clínica para una cita urgente.\n\n\
Mientras tanto, enjuáguese la boca con agua templada, ponga una compresa fría en la mejilla para aliviar el dolor y la hinchazón, y guarde los trozos rotos en leche o en agua para traerlos. Cubra el borde afilado con cera dental o chicle sin azúcar, mastique por el otro lado y tome analgésicos como paracetamol o ibuprofeno según el prospecto.",
        pt: "Um dente rachado ou partido que dói ou tem uma aresta afiada deve ser visto em breve. Contacte já a clínica para uma consulta urgente.\n\n\
Entretanto, bocheche com água morna, ponha uma compressa fria na bochecha para aliviar a dor e o inchaço, e guarde os pedaços partidos em leite ou em água para os trazer. Cubra a aresta afiada com cera dentária ou pastilha elástica sem açúcar, mastigue do outro lado e tome analgésicos como paracetamol ou ibuprofeno como indica a embalagem.",
    },
    FirstAid {
        category: "soft_tissue_trauma",
        severity: Severity::Urgent,
        en: "For a deep cut or tear inside the mouth or on the lip, gently rinse or clean the area, then press firmly on it with a clean, damp cloth or gauze for 15-20 minutes. A cold compress on the outside can ease swelling.\n\n\
Please contact the clinic now so the wound can be checked; a deep or gaping cut may need stitches today. If the bleeding won't stop with pressure, or the wound is large or gaping, go to A&E / the emergency room or call emergency services (911/999/112).",
        es: "Para un corte o un desgarro profundo dentro de la boca o en el labio, limpie la zona con suavidad y luego presione con firmeza con un paño limpio y húmedo o una gasa durante 15-20 minutos. Una compresa fría por fuera puede aliviar la hinchazón.\n\n\
Contacte ahora con la clínica para que revisen la herida; un corte profundo o abierto puede necesitar puntos hoy. Si el sangrado no para con presión, o la herida es grande o está abierta, vaya a urgencias o llame a emergencias (112/911).",
        pt: "Para um corte ou rasgão profundo dentro da boca ou no lábio, limpe a zona com cuidado e depois pressione com firmeza com um pano limpo e húmido ou gaze durante 15-20 minutos. Uma compressa fria por fora pode aliviar o inchaço.\n\n\
Contacte já a clínica para verem a ferida; um corte profundo ou aberto pode precisar de pontos hoje. Se o sangramento não parar com pressão, ou a ferida for grande ou estiver aberta, vá às urgências / ao pronto-socorro ou ligue para os serviços de emergência (112, ou 192 no Brasil).",
    },
    FirstAid {
        category: "trismus",
        severity: Severity::Urgent,
        en: "Being unable to open your mouth normally, especially with swelling or a fever, needs an urgent dental assessment. Please contact the clinic now for a same-day appointment.\n\n\
Take painkillers such as paracetamol or ibuprofen as the pack directs, choose soft food and drinks, and don't force your mouth open. If breathing or swallowing becomes difficult, or the swelling spreads, go to A&E or call emergency services (911/999/112).",
        es: "No poder abrir la boca con normalidad, sobre todo con hinchazón o fiebre, necesita una valoración dental urgente. Contacte ahora con la clínica para una cita hoy mismo.\n\n\
Tome analgésicos como paracetamol o ibuprofeno según el prospecto, elija comidas y bebidas blandas y no fuerce la apertura de la boca. Si cuesta respirar o tragar, o la hinchazón se extiende, vaya a urgencias o llame a emergencias (112/911).",
        pt: "Não conseguir abrir a boca normalmente, sobretudo com inchaço ou febre, precisa de uma avaliação dentária urgente. Contacte já a clínica para uma consulta no mesmo dia.\n\n\
Tome analgésicos como paracetamol ou ibuprofeno como indica a embalagem, escolha comidas e bebidas moles e não force a boca a abrir. Se ficar difícil respirar ou engolir, ou o inchaço se espalhar, vá às urgências ou ligue para os serviços de emergência (112, ou 192 no Brasil).",
    },
    FirstAid {
        category: "abscess",
        severity: Severity::Urgent,
        en: "A painful gum lump, pus, a bad taste or a throbbing tooth that is tender to bite on can be signs of a dental abscess, which won't clear up on its own. Please contact the clinic now for an urgent appointment.\n\n\
Meanwhile, take painkillers such as ibuprofen or paracetamol as the pack directs, avoid very hot or cold food, chew on the other side, and don't squeeze or pierce the lump. If your face or neck swells, you get a fever, or breathing or swallowing becomes difficult, go to A&E or call emergency services (911/999/112).",
        es: "Un bulto doloroso en la encía, pus, mal sabor o un diente que late y duele al morder pueden ser signos de un absceso dental, que no se cura solo. Contacte ahora con la clínica para una cita urgente.\n\n\
Mientras tanto, tome analgésicos como ibuprofeno o paracetamol según el prospecto, evite la comida muy caliente o muy fría, mastique por el otro lado y no apriete ni pinche el bulto. Si se le hincha la cara o el cuello, tiene fiebre, o cuesta respirar o tragar, vaya a urgencias o llame a emergencias (112/911).",
        pt: "Um caroço doloroso na gengiva, pus, mau gosto ou um dente que lateja e dói ao morder podem ser sinais de um abcesso dentário, que não passa sozinho. Contacte já a clínica para uma consulta urgente.\n\n\
Entretanto, tome analgésicos como ibuprofeno ou paracetamol como indica a embalagem, evite comida muito quente ou muito fria, mastigue do outro lado e não esprema nem fure o caroço. Se a cara ou o pescoço incharem, tiver febre, ou ficar difícil respirar ou engolir, vá às urgências ou ligue para os serviços de emergência (112, ou 192 no Brasil).",
    },
    FirstAid {
        category: "facial_swelling",
        severity: Severity::Urgent,
        en: "Swelling of the cheek or jaw from a tooth needs to be seen the same day. Please contact the clinic now for an urgent appointment.\n\n\
Hold a cold compress (ice wrapped in a cloth) on the outside of your face for 15 minutes at a time, and take painkillers such as paracetamol or ibuprofen as the pack directs. Don't hold heat against the swelling. If the swelling reaches your eye or neck, or breathing or swallowing becomes difficult, go to A&E / the emergency room or call emergency services (911/999/112).",
        es: "La hinchazón de la mejilla o la mandíbula por un diente tiene que verse hoy mismo. Contacte ahora con la clínica para una cita urgente.\n\n\
Aplique una compresa fría (hielo envuelto en un paño) por fuera de la cara durante 15 minutos cada vez, y tome analgésicos como paracetamol o ibuprofeno según el prospecto. No aplique calor sobre la hinchazón. Si la hinchazón llega al ojo o al cuello, o cuesta respirar o tragar, vaya a urgencias o llame a emergencias (112/911).",
        pt: "O inchaço da bochecha ou do maxilar por causa de um dente precisa de ser visto no mesmo dia. Contacte já a clínica para uma consulta urgente.\n\n\
Ponha uma compressa fria (gelo embrulhado num pano) por fora da cara durante 15 minutos de cada vez, e tome analgésicos como paracetamol ou ibuprofeno como indica a embalagem. Não ponha calor sobre o inchaço. Se o inchaço chegar ao olho ou ao pescoço, ou ficar difícil respirar ou engolir, vá às urgências / ao pronto-socorro ou ligue para os serviços de emergência (112, ou 192 no Brasil).",
    },
    FirstAid {
        category: "pulpitis",
        severity: Severity::Urgent,
        en: "Throbbing tooth pain that lingers after hot or cold, starts on its own, or wakes you at night usually means the nerve inside the tooth is inflamed, and it needs an urgent dental visit. Please contact the clinic now.\n\n\
Meanwhile, rinse with warm water, floss gently to remove any trapped food, and hold a cold compress on your cheek. Take paracetamol or ibuprofen as the pack directs, and never put aspirin directly on the gum. If swelling or a fever develops, go to A&E or call emergency services (911/999/112) if breathing or swallowing is affected.",
        es: "Un dolor de muelas pulsátil que dura después de algo frío o caliente, que empieza solo o que le despierta por la noche suele indicar que el nervio del diente está inflamado, y necesita una visita dental urgente. Contacte ahora con la clínica.\n\n\
Mientras tanto, enjuáguese con agua templada, use el hilo dental con suavidad para quitar restos de comida y ponga una compresa fría en la mejilla. Tome paracetamol o ibuprofeno según el prospecto, y nunca ponga una aspirina directamente sobre la encía. Si aparece hinchazón o fiebre, vaya a urgencias, o llame a emergencias (112/911) si cuesta respirar o tragar.",
        pt: "Uma dor de dente latejante que continua depois de algo quente ou frio, que começa sozinha ou que o acorda à noite costuma indicar que o nervo do dente está inflamado, e precisa de uma consulta dentária urgente. Contacte já a clínica.\n\n\
Entretanto, bocheche com água morna, passe o fio dentário com cuidado para tirar restos de comida e ponha uma compressa fria na bochecha. Tome paracetamol ou ibuprofeno como indica a embalagem, e nunca ponha uma aspirina diretamente na gengiva. Se aparecer inchaço ou febre, vá às urgências, ou ligue para os serviços de emergência (112, ou 192 no Brasil) se a respiração ou a deglutição estiverem afetadas.",
    },
    FirstAid {
        category: "severe_pain",
        severity: Severity::Urgent,
        en: "Severe toothache that stops you sleeping or getting on with your day, and isn't helped by painkillers, needs an urgent dental visit. Please contact the clinic now.\n\n\
Meanwhile, rinse with warm water, floss gently to remove any trapped food, and hold a cold compress on your cheek. Take paracetamol or ibuprofen as the pack directs, and never put aspirin directly on the gum. If your face or neck swells, you develop a fever, or breathing or swallowing becomes difficult, go to A&E or call emergency services (911/999/112).",
        es: "Un dolor de muelas fuerte que no le deja dormir ni hacer su vida, y que no mejora con analgésicos, necesita una visita dental urgente. Contacte ahora con la clínica.\n\n\
Mientras tanto, enjuáguese con agua templada, use el hilo dental con suavidad para quitar restos de comida y ponga una compresa fría en la mejilla. Tome paracetamol o ibuprofeno según el prospecto, y nunca ponga una aspirina directamente sobre la encía. Si se le hincha la cara o el cuello, tiene fiebre, o cuesta respirar o tragar, vaya a urgencias o llame a emergencias (112/911).",
        pt: "Uma dor de dente forte que não o deixa dormir nem fazer a sua vida, e que não melhora com analgésicos, precisa de uma consulta dentária urgente. Contacte já a clínica.\n\n\
Entretanto, bocheche com água morna, passe o fio dentário com cuidado para tirar restos de comida e ponha uma compressa fria na bochecha. Tome paracetamol ou ibuprofeno como indica a embalagem, e nunca ponha uma aspirina diretamente na gengiva. Se a cara ou o pescoço incharem, tiver febre, ou ficar difícil respirar ou engolir, vá às urgências ou ligue para os serviços de emergência (112, ou 192 no Brasil).",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    const CALL: [(Language, &str); 3] = [
        (Language::En, "call emergency services"),
        (Language::Es, "llame a emergencias"),
        (Language::Pt, "servi\u{e7}os de emerg\u{ea}ncia"),
    ];
    const CLINIC: [(Language, &str); 3] = [
        (Language::En, "clinic"),
        (Language::Es, "cl\u{ed}nica"),
        (Language::Pt, "cl\u{ed}nica"),
    ];

    #[test]
    fn every_category_has_first_aid_in_each_language_naming_the_clinic() {
        assert_eq!(CATEGORIES.len(), 23);
        for entry in CATEGORIES {
            for (language, clinic) in CLINIC {
                let text = entry.text(language).to_lowercase();
                assert!(text.contains(clinic), "{} {language:?}", entry.category);
            }
        }
    }

    #[test]
    fn emergencies_say_call_emergency_services_in_each_language() {
        for entry in CATEGORIES.iter().filter(|entry| entry.severity == Severity::Emergency) {
            for (language, call) in CALL {
                assert!(
                    entry.text(language).to_lowercase().contains(call),
                    "{} {language:?}",
                    entry.category
                );
            }
        }
    }

    #[test]
    fn the_six_emergencies_of_categories_md_are_emergencies() {
        let emergencies: Vec<&str> = CATEGORIES
            .iter()
            .filter(|entry| entry.severity == Severity::Emergency)
            .map(|entry| entry.category)
            .collect();
        assert_eq!(
            emergencies,
            [
                "allergic_swelling",
                "airway_threatening_swelling",
                "jaw_dislocation",
                "uncontrolled_bleeding",
                "facial_trauma",
                "spreading_infection"
            ]
        );
    }
}
